"""``haven chat``: type messages while the counterpart's appear live over the WebSocket.

One process does both with one client (and one open keystore): the socket task delivers
events while the prompt task reads lines, so listening never blocks sending.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TextIO

import click
from rich.text import Text

from haven_client.cli import copy
from haven_client.cli.context import Options, client_for, pass_options
from haven_client.cli.conversation import latest
from haven_client.cli.output import Output
from haven_client.cli.render import crisis_panel, describe, status_line
from haven_client.client import HavenClient
from haven_client.errors import HavenApiError, HavenError
from haven_client.events import ConnectionChanged, ReceivedMessage
from haven_client.models import CrisisResource
from haven_client.sender import text_payload

HELP = copy.CHAT_HELP


class SessionEnded(HavenError):
    """The server closed this device's socket for good (revoked, signed out, replaced)."""


@click.command()
@click.argument("conversation_id")
@click.option("--backlog", default=10, show_default=True, help="Earlier messages to show first.")
@pass_options
async def chat(options: Options, conversation_id: str, backlog: int) -> None:
    """Talk in a conversation: incoming messages, read markers and notices appear live."""
    async with client_for(options) as client:
        await Chat(client, conversation_id, options.output).run(backlog, options.stdin)


class Chat:
    def __init__(self, client: HavenClient, conversation_id: str, out: Output) -> None:
        self.client = client
        self.conversation_id = conversation_id
        self.out = out
        self.sent: set[str] = set()

    async def run(self, backlog: int, stdin: TextIO) -> None:
        await self._header()
        for event in await latest(self.client, self.conversation_id, backlog):
            self._show(describe(self.client, event))
        await self.client.connect()
        listening = asyncio.create_task(self._listen())
        typing = asyncio.create_task(self._type(stdin))
        try:
            done, _ = await asyncio.wait({listening, typing}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in (listening, typing):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _header(self) -> None:
        listing = {c.conversation_id: c for c in await self.client.conversations()}
        conversation = listing.get(self.conversation_id)
        if conversation is None:
            raise HavenError(copy.UNKNOWN_CONVERSATION.format(conversation_id=self.conversation_id))
        me = self.client.store.state.account
        others = [
            p for p in conversation.participants if me is None or p.account_id != me.account_id
        ]
        names = ", ".join(f"{p.display_name or p.handle} ({p.role})" for p in others)
        self.out.console.print(Text(f"Chat with {names}. {HELP}", style="bold"))
        if conversation.status != "active":
            pause = conversation.pause
            self.out.console.print(
                status_line(
                    conversation.status,
                    pause.reason if pause else None,
                    pause.resume_on if pause else None,
                )
            )
        if me is not None and me.role == "client":
            with contextlib.suppress(HavenError):
                expectation = await self.client.reply_expectation(self.conversation_id)
                self.out.console.print(Text(f"· {expectation}", style="cyan"))

    async def _listen(self) -> None:
        async for event in self.client.events():
            if isinstance(event, ConnectionChanged):
                self._connection(event)
                continue
            if getattr(event, "conversation_id", self.conversation_id) != self.conversation_id:
                self._show(Text(f"· {copy.OTHER_CONVERSATION}", style="dim"))
                continue
            if isinstance(event, ReceivedMessage) and event.message_id in self.sent:
                continue
            self._show(describe(self.client, event))
            if isinstance(event, ReceivedMessage) and not event.outgoing:
                with contextlib.suppress(HavenError):
                    await self.client.mark_read(self.conversation_id, event.seq)

    def _connection(self, event: ConnectionChanged) -> None:
        if event.state == "ready":
            self._show(Text("· connected", style="green"))
        elif event.state == "disconnected":
            self._show(Text(f"· {copy.CONNECTION_LOST}", style="yellow"))
        elif event.code == 4403:
            raise SessionEnded(copy.REVOKED)
        else:
            raise SessionEnded(copy.CHAT_CLOSED.format(reason=event.reason))

    async def _type(self, stdin: TextIO) -> None:
        async for line in _lines(stdin):
            text = line.strip()
            if text in ("/quit", "/exit"):
                return
            if text == "/help":
                self._show(Text(HELP, style="dim"))
            elif text.startswith("/urgent"):
                await self._send(text.removeprefix("/urgent").strip(), urgent=True)
            elif text.startswith("/"):
                self._show(Text(copy.UNKNOWN_COMMAND, style="dim"))
            elif text:
                await self._send(text, urgent=False)

    async def _send(self, text: str, *, urgent: bool) -> None:
        if not text:
            self._show(Text(copy.EMPTY_MESSAGE, style="dim"))
            return
        try:
            receipt = await self.client.send(
                self.conversation_id, text_payload(text), urgent, via_websocket=True
            )
        except HavenApiError as error:
            self._show(Text(copy.NOT_SENT.format(detail=error.detail or error.code), style="red"))
            if urgent:
                self._crisis([CrisisResource.model_validate(r) for r in error.crisis_resources])
            return
        self.sent.add(receipt.message_id)
        self._show(Text(f"  ✓ sent{' (urgent)' if urgent else ''}", style="dim"))
        if urgent:
            self._crisis(receipt.crisis_resources)

    def _crisis(self, resources: list[CrisisResource]) -> None:
        # Every urgent answer carries them; the keystore's copy covers a server that did not.
        if not resources:
            resources = [
                CrisisResource.model_validate(r) for r in self.client.store.state.crisis_resources
            ]
        self.out.console.print(crisis_panel(resources))

    def _show(self, line: Text | str | None) -> None:
        if line is not None:
            self.out.console.print(line)


async def _lines(stdin: TextIO) -> AsyncIterator[str]:
    """Lines from stdin without blocking the event loop (a terminal or a pipe)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    try:
        while line := await reader.readline():
            yield line.decode("utf-8", errors="replace")
    finally:
        transport.close()


COMMANDS = [chat]
