"""Conversation commands: list, history, send, delete a message, invite, accept, end.
A conversation is named by its id or by the other person's handle."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import click
from rich.table import Table
from rich.text import Text

from haven_client.cli import copy
from haven_client.cli.compose import message_text
from haven_client.cli.context import Options, client_for, pass_options
from haven_client.cli.files import send_with_files
from haven_client.cli.names import conversation_id_for
from haven_client.cli.render import crisis_panel, describe, event_record
from haven_client.client import HavenClient
from haven_client.errors import HavenError, Paused
from haven_client.events import InvalidMessage
from haven_client.models import CrisisResource
from haven_client.opener import Opened
from haven_client.sender import text_payload

MAX_VOICE_NOTE_SECONDS = 24 * 3600  # a day: past it, a typo (1e300 made an unreadable entry)


@click.command()
@pass_options
async def conversations(options: Options) -> None:
    """Your conversations, with whom, their state and what is unread."""
    async with client_for(options) as client:
        listing = await client.conversations()
        me = client.store.state.account
    table = Table("conversation", "with", "status", "unread", box=None)
    for conversation in listing:
        others = [
            p for p in conversation.participants if me is None or p.account_id != me.account_id
        ]
        table.add_row(
            conversation.conversation_id,
            ", ".join(f"{p.display_name or p.handle} ({p.role})" for p in others),
            conversation.status,
            str(max(0, conversation.last_seq - conversation.read_up_to)),
        )
        options.output.emit(conversation.model_dump(mode="json"))
    options.output.say(table if listing else "No conversations yet.")


@click.command()
@click.argument("conversation_id", metavar="CONVERSATION")
@click.option("--limit", default=20, show_default=True, help="How many of the latest messages.")
@pass_options
async def history(options: Options, conversation_id: str, limit: int) -> None:
    """The latest messages of a conversation, decrypted and checked on this device."""
    async with client_for(options) as client:
        conversation_id = await conversation_id_for(client, conversation_id)
        events = await latest(client, conversation_id, limit)
        for event in events:
            options.output.emit(event_record(event))
        if not options.output.as_json:
            for line in shown_once(client, events):
                options.output.say(line)


def shown_once(client: HavenClient, events: Sequence[Opened]) -> Iterator[Text | str]:
    """The lines a person reads: messages older than this device are one note, not one
    "cannot be opened" per message."""
    earlier = [e for e in events if isinstance(e, InvalidMessage) and e.predates_device]
    if earlier:
        yield Text(f"· {copy.EARLIER_UNREADABLE.format(count=len(earlier))}", style="dim")
    for event in events:
        if event in earlier:
            continue
        line = describe(client, event)
        if line is not None:
            yield line


async def latest(client: HavenClient, conversation_id: str, limit: int) -> list[Opened]:
    """The last ``limit`` messages in ascending order."""
    listing = {c.conversation_id: c for c in await client.conversations()}
    if conversation_id not in listing:
        raise HavenError(copy.UNKNOWN_CONVERSATION.format(conversation_id=conversation_id))
    last_seq = listing[conversation_id].last_seq
    page, _ = await client.history(conversation_id, before_seq=last_seq + 1, limit=limit)
    return sorted(page, key=lambda event: getattr(event, "seq", 0) or 0)


@click.command()
@click.argument("conversation_id", metavar="CONVERSATION")
@click.option("--urgent", is_flag=True, help="Clients: mark urgent (you get crisis resources).")
@click.option("--file", "files", multiple=True, help="Send this file, end-to-end encrypted.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True, max=MAX_VOICE_NOTE_SECONDS),
    help="A voice note's length in seconds, when its file does not say (one audio --file).",
)
@pass_options
async def send(
    options: Options,
    conversation_id: str,
    urgent: bool,
    files: tuple[str, ...],
    duration: float | None,
) -> None:
    """Send a message read from stdin (or written in $EDITOR), never from the command line.
    With --file: files and voice notes (an audio file carries its length)."""
    if duration is not None and not math.isfinite(duration):  # "nan" passes FloatRange
        raise click.BadParameter("a number of seconds", param_hint="--duration")
    if duration is not None and (not files or urgent):
        raise click.BadParameter("give it with one audio --file", param_hint="--duration")
    if files and not urgent:
        await send_with_files(options, conversation_id, files, duration)  # cli/files.py
        return
    text = message_text(options.stdin)
    async with client_for(options) as client:
        conversation_id = await conversation_id_for(client, conversation_id)
        try:
            receipt = await client.send(conversation_id, text_payload(text), urgent)
        except HavenError as refused:
            if urgent:  # not delivered: the resources now, never only an error line
                told = isinstance(refused, Paused) and refused.coach_notified
                options.output.warn(
                    copy.URGENT_NOT_DELIVERED_COACH_TOLD if told else copy.URGENT_NOT_DELIVERED
                )
                extra = getattr(refused, "crisis_resources", [])
                options.output.errors.print(crisis_panel(
                    [CrisisResource.model_validate(r) for r in extra]
                    or await client.crisis_resources()
                ))  # fmt: skip
            raise
    options.output.emit({"message_id": receipt.message_id}, "Sent (end-to-end encrypted).")
    for name in receipt.recipients_absent:
        options.output.say(copy.NO_DEVICE.format(name=name))
    for resource in receipt.crisis_resources:
        options.output.emit({"crisis_resource": resource.model_dump()})
    if receipt.crisis_resources:
        options.output.say(crisis_panel(receipt.crisis_resources))


@click.command()
@pass_options
async def invite(options: Options) -> None:
    """A single-use invite: coaches invite a client, operators invite a coach."""
    async with client_for(options) as client:
        role = client.store.state.account.role if client.store.state.account else ""
        kinds = {"coach": "client", "operator": "coach"}
        if role not in kinds:
            raise HavenError(copy.CANNOT_INVITE)
        created = await client.create_invite(kinds[role])
    options.output.emit(
        created.model_dump(mode="json"),
        f"Invite for a {created.kind}: [bold]{created.code}[/]\n"
        f"Single use, expires {created.expires_at:%Y-%m-%d %H:%M %Z}. Share it privately.",
    )


@click.command()
@click.argument("code")
@pass_options
async def accept(options: Options, code: str) -> None:
    """Clients: connect to another coach with that coach's invite code."""
    async with client_for(options) as client:
        conversation_id = await client.accept_invite(code)
    options.output.emit(
        {"conversation_id": conversation_id}, f"Connected: conversation {conversation_id}."
    )


@click.command("delete-message")
@click.argument("conversation_id", metavar="CONVERSATION")
@click.argument("message_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_options
async def delete_message(
    options: Options, conversation_id: str, message_id: str, yes: bool
) -> None:
    """Delete one of your messages for everyone (MESSAGE_ID from `haven history --json`)."""
    if not yes:
        click.confirm("Delete this message for everyone?", abort=True)
    async with client_for(options) as client:
        conversation_id = await conversation_id_for(client, conversation_id)
        await client.delete_message(conversation_id, message_id)
    options.output.emit(
        {"conversation_id": conversation_id, "deleted": message_id}, "Deleted for everyone."
    )


@click.command()
@click.argument("conversation_id", metavar="CONVERSATION")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_options
async def end(options: Options, conversation_id: str, yes: bool) -> None:
    """End a conversation for both of you; it stays readable but nobody can send."""
    if not yes:
        click.confirm("End this conversation? It becomes read-only for both of you", abort=True)
    async with client_for(options) as client:
        conversation_id = await conversation_id_for(client, conversation_id)
        await client.api.end_conversation(conversation_id)
        await client.conversations()
    options.output.emit(
        {"conversation_id": conversation_id, "status": "ended"}, "The conversation has ended."
    )


COMMANDS = [conversations, history, send, delete_message, invite, accept, end]
