"""``haven chat``: type messages while the counterpart's appear live over the WebSocket.

One process does both with one client (and one open keystore): the socket task delivers
events, the prompt task reads lines into an outbox, and the outbox task sends them in order
— a send waiting out the server's pace (429) never blocks reading or typing. Nothing the
server or the SDK does ends the chat except a final sign-out: every refused send is one calm
line and a draft kept for /retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TextIO

import aiohttp
import click
from rich.text import Text

from haven_client import copy as sdk_copy
from haven_client.cli import copy
from haven_client.cli.chatintro import introduce
from haven_client.cli.context import Options, client_for, pass_options
from haven_client.cli.conversation import latest, shown_once
from haven_client.cli.failures import not_sent
from haven_client.cli.names import conversation_id_for
from haven_client.cli.output import Output
from haven_client.cli.render import crisis_panel, describe
from haven_client.client import HavenClient
from haven_client.errors import HavenError, Paused
from haven_client.events import (
    ConnectionChanged,
    DevicesChanged,
    ReceivedMessage,
    SendingShortly,
)
from haven_client.models import CrisisResource
from haven_client.sender import text_payload

log = logging.getLogger("haven_client.cli.chat")
NOTICE_EVERY = 10.0  # seconds between two "sending shortly" lines


class SessionEnded(HavenError):
    """The server closed this device's socket for good (revoked, signed out, replaced)."""


@click.command()
@click.argument("conversation")
@click.option("--backlog", default=10, show_default=True, help="Earlier messages to show first.")
@pass_options
async def chat(options: Options, conversation: str, backlog: int) -> None:
    """Talk in a conversation (its id, or the other person's handle): incoming messages, read
    markers and notices appear live."""
    async with client_for(options) as client:
        conversation_id = await conversation_id_for(client, conversation)
        await Chat(client, conversation_id, options.output).run(backlog, options.stdin)


class Chat:
    def __init__(self, client: HavenClient, conversation_id: str, out: Output) -> None:
        self.client = client
        self.conversation_id = conversation_id
        self.out = out
        self.sent: set[str] = set()
        self.shown: set[str] = set()
        self.outbox: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()
        self.draft: tuple[str, bool] | None = None
        self.absent: set[str] = set()
        self.own_devices: set[str] = set()
        self.counterpart = "them"
        self.coach = False
        self._last_notice = 0.0

    async def run(self, backlog: int, stdin: TextIO) -> None:
        await self._header()
        earlier = await latest(self.client, self.conversation_id, backlog)
        for line in shown_once(self.client, earlier):
            self._show(line)
        self.shown = {e.message_id for e in earlier if isinstance(e, ReceivedMessage)}
        self.own_devices = {d.device_id for d in (await self.client.me()).devices}
        await self.client.connect()
        tasks = [
            asyncio.create_task(self._listen()),
            asyncio.create_task(self._type(stdin)),
            asyncio.create_task(self._send_outbox()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _header(self) -> None:
        self.counterpart, self.coach = await introduce(self.client, self.conversation_id, self.out)

    async def _listen(self) -> None:
        async for event in self.client.events():
            if isinstance(event, ConnectionChanged):
                self._connection(event)
                continue
            if isinstance(event, SendingShortly):
                self._sending_shortly()
                continue
            if isinstance(event, DevicesChanged):
                await self._devices_changed(event.account_id)
                continue
            if getattr(event, "conversation_id", self.conversation_id) != self.conversation_id:
                self._show(Text(f"· {copy.OTHER_CONVERSATION}", style="dim"))
                continue
            if isinstance(event, ReceivedMessage):
                if event.message_id in self.sent or event.message_id in self.shown:
                    continue
                self.shown.add(event.message_id)
            self._show(describe(self.client, event))
            if isinstance(event, ReceivedMessage) and not event.outgoing:
                with contextlib.suppress(HavenError, aiohttp.ClientError, OSError):
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

    async def _devices_changed(self, account_id: str) -> None:
        me = self.client.store.state.account
        if me is not None and account_id == me.account_id:
            with contextlib.suppress(HavenError, aiohttp.ClientError, OSError):
                devices = (await self.client.me()).devices
                for device in devices:
                    if device.device_id not in self.own_devices:
                        line = copy.NEW_SIGN_IN.format(device=device.name or device.device_id)
                        self._show(Text(f"! {line}", style="bold yellow"))
                self.own_devices = {d.device_id for d in devices}

    def _sending_shortly(self) -> None:
        now = time.monotonic()
        if now - self._last_notice >= NOTICE_EVERY:
            self._last_notice = now
            line = copy.SENDING_REST if self.outbox.qsize() else sdk_copy.SENDING_SHORTLY
            self._show(Text(f"· {line}", style="cyan"))

    async def _type(self, stdin: TextIO) -> None:
        async for line in _lines(stdin):
            text = line.strip()
            if text in ("/quit", "/exit"):
                break
            if text == "/help":
                self._show(Text(copy.CHAT_HELP, style="dim"))
            elif text.startswith("/urgent"):
                await self._queue(text.removeprefix("/urgent").strip(), urgent=True)
            elif text == "/retry":
                await self._retry()
            elif self.coach and (text == "/resume" or text.startswith("/pause")):
                await self._pause_or_resume(text)
            elif text.startswith("/"):
                self._show(Text(copy.UNKNOWN_COMMAND, style="dim"))
            elif text:
                await self._queue(text, urgent=False)
        await self.outbox.join()  # what was typed goes out before the chat closes (/quit, ^D)

    async def _queue(self, text: str, *, urgent: bool) -> None:
        if not text:
            self._show(Text(copy.EMPTY_MESSAGE, style="dim"))
            return
        await self.outbox.put((text, urgent))

    async def _retry(self) -> None:
        if self.draft is None:
            self._show(Text(copy.EMPTY_MESSAGE, style="dim"))
            return
        text, urgent = self.draft
        self.draft = None
        await self.outbox.put((text, urgent))

    async def _pause_or_resume(self, text: str) -> None:
        try:
            if text == "/resume":
                await self.client.safety.resume(self.conversation_id)
            else:
                reason = text.removeprefix("/pause").strip() or None
                await self.client.safety.pause(self.conversation_id, reason)
        except (HavenError, aiohttp.ClientError, OSError) as error:
            log.info("chat_pause_refused error=%r", error)
            self._show(Text(not_sent(error, self.counterpart), style="yellow"))

    async def _send_outbox(self) -> None:
        while True:
            text, urgent = await self.outbox.get()
            try:
                await self._send(text, urgent=urgent)
            finally:
                self.outbox.task_done()

    async def _send(self, text: str, *, urgent: bool) -> None:
        try:
            receipt = await self.client.send(
                self.conversation_id, text_payload(text), urgent, via_websocket=True
            )
        except (HavenError, aiohttp.ClientError, OSError, TimeoutError) as error:
            log.info("chat_send_refused error=%r", error)
            self.draft = (text, urgent)
            if urgent:
                told = isinstance(error, Paused) and error.coach_notified
                line = copy.URGENT_NOT_DELIVERED_COACH_TOLD if told else copy.URGENT_NOT_DELIVERED
                self._show(Text(line, style="yellow"))
                extra = getattr(error, "crisis_resources", [])
                self._crisis([CrisisResource.model_validate(r) for r in extra])
            else:
                self._show(Text(not_sent(error, self.counterpart), style="yellow"))
            if urgent or not isinstance(error, Paused):
                self._show(Text(copy.DRAFT_KEPT, style="dim"))
            return
        self.sent.add(receipt.message_id)
        for name in receipt.recipients_absent:
            if name not in self.absent:
                self._show(Text(f"· {copy.NO_DEVICE.format(name=name)}", style="cyan"))
        self.absent = set(receipt.recipients_absent)
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
