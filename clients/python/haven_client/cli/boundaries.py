"""Push, quiet hours and a coach's availability; and `listen`, events as JSON lines."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TextIO

import click
from pydantic import ValidationError

from haven_client.boundaries import KEEP, new_push_secret
from haven_client.cli import coachtext
from haven_client.cli.context import Options, client_for, pass_options
from haven_client.cli.render import event_record
from haven_client.client import HavenClient
from haven_client.errors import HavenError, InvalidSetting
from haven_client.events import CoachAway, InvalidMessage, KeyChanged, ReceivedMessage
from haven_client.keystore import StoredParticipant
from haven_client.models import Availability, NotificationSettings


@click.group()
def push() -> None:
    """This device's push gateway (the app's relay to APNs/FCM)."""


@push.command("set")
@click.argument("url")
@click.option("--secret-stdin", is_flag=True, help="Read the secret from stdin's first line.")
@pass_options
async def push_set(options: Options, url: str, secret_stdin: bool) -> None:
    """Register URL (a secret is generated and shown once unless given on stdin)."""
    given = options.stdin.readline().strip() if secret_stdin else None
    if given == "":
        raise InvalidSetting("--secret-stdin: no secret on stdin")
    secret = given or new_push_secret()
    async with client_for(options) as client:
        status = (await client.set_push(url, secret)).model_dump(exclude_none=True)
    # A generated secret is shown this once: the relay needs it to verify signatures.
    options.output.emit(status if given else {**status, "secret": secret}, str(status))


@push.command("status")
@pass_options
async def push_status(options: Options) -> None:
    """Whether a push gateway is set (never its secret)."""
    async with client_for(options) as client:
        status = (await client.push_status()).model_dump(exclude_none=True)
    options.output.emit(status, str(status))


@push.command("remove")
@pass_options
async def push_remove(options: Options) -> None:
    """Stop pushes to this device."""
    async with client_for(options) as client:
        await client.remove_push()
    options.output.emit({"set": False}, "Push removed.")


@click.group()
def notifications() -> None:
    """Notification settings: time zone, quiet hours, urgent bypass."""


@notifications.command("show")
@pass_options
async def notifications_show(options: Options) -> None:
    """The current settings."""
    async with client_for(options) as client:
        settings = await client.notification_settings()
    _emit_settings(options, client, settings)


@notifications.command("quiet-hours")
@click.argument("start")
@click.argument("end")
@click.option("--tz", help="IANA time zone of START and END (e.g. Europe/Berlin).")
@pass_options
async def quiet_hours(options: Options, start: str, end: str, tz: str | None) -> None:
    """Hold pushes from START to END (HH:MM); they come as one when quiet hours end."""
    async with client_for(options) as client:
        settings = await client.update_notification_settings(
            quiet_hours=(start, end), time_zone=tz if tz else KEEP
        )
    _emit_settings(options, client, settings)


@notifications.command("no-quiet-hours")
@pass_options
async def no_quiet_hours(options: Options) -> None:
    """Push at any time."""
    async with client_for(options) as client:
        settings = await client.update_notification_settings(quiet_hours=None)
    _emit_settings(options, client, settings)


@notifications.command("urgent-bypass")
@click.argument("state", type=click.Choice(["on", "off"]))
@pass_options
async def urgent_bypass(options: Options, state: str) -> None:
    """Coaches: let a client's urgent message through quiet hours."""
    async with client_for(options) as client:
        settings = await client.update_notification_settings(urgent_bypass=state == "on")
    _emit_settings(options, client, settings)


def _emit_settings(options: Options, client: HavenClient, settings: NotificationSettings) -> None:
    me = client.store.state.account
    human = coachtext.notification_sentences(settings, coach=me is not None and me.role == "coach")
    options.output.emit(settings.model_dump(mode="json"), human)


@notifications.command("urgent-while-paused")
@click.argument("state", type=click.Choice(["on", "off"]))
@pass_options
async def urgent_while_paused(options: Options, state: str) -> None:
    """Coaches: be told (without its words) when a client tries an urgent message while you
    have paused the conversation. Off by default."""
    async with client_for(options) as client:
        settings = await client.update_notification_settings(urgent_while_paused=state == "on")
        _emit_settings(options, client, settings)


@click.group()
def availability() -> None:
    """A coach's hours, response time and away note."""


@availability.command("set")
@click.argument("file", required=False, type=click.Path(path_type=Path, allow_dash=True))
@click.option("--weekly", help='Your hours, e.g. "mon-fri 09:00-17:00, sat 10:00-12:00".')
@click.option("--reply-within", help='How soon you usually reply, e.g. "24h" or "2d".')
@click.option("--time-zone", help="IANA time zone of your hours (default: your notifications').")
@click.option("--away-message", default="", help="A note clients see outside your hours.")
@pass_options
async def availability_set(
    options: Options,
    file: Path | None,
    weekly: str | None,
    reply_within: str | None,
    time_zone: str | None,
    away_message: str,
) -> None:
    """Coaches: set your hours and reply time with the options (or from a JSON file as in
    docs/api.md, '-' for stdin)."""
    async with client_for(options) as client:
        if file is not None:
            value = _availability_file(file, options.stdin)
        else:
            if weekly is None or reply_within is None:
                raise click.UsageError("give --weekly and --reply-within (or a JSON file)")
            zone = time_zone or (await client.notification_settings()).time_zone
            value = Availability(
                time_zone=zone,
                weekly=coachtext.weekly(weekly),
                response_time_hours=coachtext.hours(reply_within),
                away_message=away_message,
            )
        answer = await client.set_availability(value)
        me = client.store.state.account
    name = (me.display_name or me.handle) if me is not None else "You"
    options.output.emit(
        answer.model_dump(mode="json"),
        "Availability saved.\n" + coachtext.availability_sentences(name, answer),
    )


@availability.command("show")
@click.argument("coach")
@click.option("--tz", help="IANA time zone for the times shown (default: local).")
@pass_options
async def availability_show(options: Options, coach: str, tz: str | None) -> None:
    """A coach's availability and what to expect (conversation id, account id or handle)."""
    async with client_for(options) as client:
        found, conversation_id = await _coach(client, coach)
        shown = await client.coach_availability(found.account_id)
        body = shown.model_dump(mode="json")
        human = coachtext.availability_sentences(found.display_name or found.handle, shown)
        if conversation_id is not None:
            body["reply_expectation"] = client.boundaries.expectation(found, shown, time_zone=tz)
            human = f"{body['reply_expectation']}\n{human}"
    options.output.emit(body, human)


def _availability_file(path: Path, stdin: TextIO) -> Availability:
    try:
        text = stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HavenError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return Availability.model_validate_json(text)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) or "(file)" for e in exc.errors())
        raise InvalidSetting(f"availability file: invalid fields: {fields}") from None


async def _coach(client: HavenClient, target: str) -> tuple[StoredParticipant, str | None]:
    """A coach named by conversation id, account id or handle, and a conversation with them."""
    me = client.store.state.account
    if me is not None and target in (me.account_id, me.handle):
        return StoredParticipant(account_id=me.account_id, handle=me.handle), None
    conversations = {c.conversation_id: c for c in await client.conversations()}
    if target in conversations:
        return await client.boundaries.coach_of(target), target
    for conversation_id in conversations:
        with contextlib.suppress(HavenError):
            coach = await client.boundaries.coach_of(conversation_id)
            if target in (coach.account_id, coach.handle, coach.handle.lower()):
                return coach, conversation_id
    return StoredParticipant(account_id=target, handle=target), None


@click.command()
@click.option("--count", type=int, default=0, help="Stop after this many messages.")
@pass_options
async def listen(options: Options, count: int) -> None:
    """Print events as JSON lines until interrupted (for scripts; people use `chat`)."""
    out = options.output
    out.as_json = True
    async with client_for(options) as client:
        await client.connect()
        seen = 0
        async for event in client.events():
            out.emit(event_record(event))
            _warn(event)
            if isinstance(event, ReceivedMessage | InvalidMessage):
                seen += 1
                if count and seen >= count:
                    break


def _warn(event: object) -> None:
    if isinstance(event, InvalidMessage | KeyChanged):
        sys.stderr.write(f"WARNING: {type(event).__name__}: {getattr(event, 'reason', '')}\n")
    if isinstance(event, ReceivedMessage) and event.trust in ("key_changed", "unlisted"):
        sys.stderr.write(f"WARNING: message {event.message_id} trust: {event.trust}\n")
    if isinstance(event, CoachAway):
        sys.stderr.write(f"{event.reply_expectation}\n")


COMMANDS = [push, notifications, availability, listen]
