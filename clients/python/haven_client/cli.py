"""``python -m haven_client``: a thin companion over the SDK for terminals and scripts.

Secrets never go on the command line (it leaks into shell history and ``ps``): the
account password comes from ``HAVEN_PASSWORD`` or a prompt, the keystore
passphrase from ``HAVEN_KEYSTORE_PASSPHRASE`` or a prompt, a push secret from
stdin (``push set URL --secret-stdin``) or freshly generated and printed once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import getpass
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from haven_client.boundaries import KEEP, new_push_secret
from haven_client.client import HavenClient
from haven_client.errors import HavenApiError, HavenError, InvalidSetting
from haven_client.events import CoachAway, Event, InvalidMessage, KeyChanged, ReceivedMessage
from haven_client.keystore import Keystore, StoredParticipant
from haven_client.models import Availability
from haven_client.sender import text_payload

DEFAULT_KEYSTORE = Path.home() / ".config" / "haven" / "keystore.json"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="haven", description="Haven companion (end-to-end encrypted)"
    )
    parser.add_argument("--server", default=os.environ.get("HAVEN_SERVER"), help="gateway base URL")
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow plain http to a server that is not this machine (trusted networks only)",
    )
    parser.add_argument(
        "--keystore",
        type=Path,
        default=Path(os.environ.get("HAVEN_KEYSTORE", DEFAULT_KEYSTORE)),
        help="encrypted keystore file",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    register = commands.add_parser("register", help="create an account with an invite code")
    register.add_argument("--handle", required=True)
    register.add_argument("--invite", required=True)
    register.add_argument("--display-name")
    login = commands.add_parser("login", help="log this device in (creating the keystore)")
    login.add_argument("--handle", required=True)
    login.add_argument("--device-name")
    commands.add_parser("conversations", help="list conversations")
    send = commands.add_parser("send", help="send a text message")
    send.add_argument("conversation_id")
    send.add_argument("text")
    send.add_argument("--urgent", action="store_true", help="mark urgent (clients only)")
    listen = commands.add_parser("listen", help="print events as JSON lines until interrupted")
    listen.add_argument("--count", type=int, default=0, help="stop after this many messages")
    number = commands.add_parser("safety-number", help="show (or verify) a safety number")
    number.add_argument("target", help="conversation id or account id")
    number.add_argument("--verify", metavar="DIGITS", help="mark this number as verified")
    ack = commands.add_parser("acknowledge", help="acknowledge a counterpart's key change")
    ack.add_argument("account_id")
    _boundary_commands(commands)
    return parser


def _boundary_commands(commands: Any) -> None:
    push = commands.add_parser("push", help="this device's push gateway").add_subparsers(
        dest="action", required=True
    )
    push_set = push.add_parser("set", help="register URL (a secret is generated unless given)")
    push_set.add_argument("url")
    push_set.add_argument(
        "--secret-stdin", action="store_true", help="read the secret from stdin's first line"
    )
    push.add_parser("status", help="whether a push gateway is set")
    push.add_parser("remove", help="stop pushes to this device")
    settings = commands.add_parser("settings", help="notification settings").add_subparsers(
        dest="action", required=True
    )
    settings.add_parser("show", help="time zone, quiet hours, urgent bypass")
    quiet = settings.add_parser("quiet-hours", help="hold pushes from START to END (HH:MM)")
    quiet.add_argument("start")
    quiet.add_argument("end")
    quiet.add_argument("--tz", help="IANA time zone of START and END (e.g. Europe/Berlin)")
    settings.add_parser("no-quiet-hours", help="push at any time")
    bypass = settings.add_parser("urgent-bypass", help="coaches: urgent messages come through")
    bypass.add_argument("state", choices=("on", "off"))
    availability = commands.add_parser("availability", help="a coach's hours").add_subparsers(
        dest="action", required=True
    )
    set_hours = availability.add_parser("set", help="coaches: set availability from JSON")
    set_hours.add_argument("file", type=Path, help="JSON file as in API.md ('-' for stdin)")
    show = availability.add_parser("show", help="a coach's availability and what to expect")
    show.add_argument("coach", help="conversation id, account id or handle")
    show.add_argument("--tz", help="IANA time zone for the times shown (default: local)")


def _secret(variable: str, prompt: str) -> str:
    return os.environ.get(variable) or getpass.getpass(prompt)


def _write(out: TextIO, value: Any) -> None:
    out.write(json.dumps(value, default=_json_default, ensure_ascii=False) + "\n")
    out.flush()


def _json_default(value: object) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def event_json(event: Event) -> dict[str, Any]:
    """One JSON line; a ``CoachAway`` carries its calm ``reply_expectation`` line."""
    body = {"event": type(event).__name__, **dataclasses.asdict(event)}
    if isinstance(event, ReceivedMessage):
        body["body"] = event.body
    return body


async def run(args: argparse.Namespace, out: TextIO, stdin: TextIO | None = None) -> int:
    passphrase = _secret("HAVEN_KEYSTORE_PASSPHRASE", "Keystore passphrase: ")
    if args.command in ("login", "register"):
        store = await Keystore.open_or_create(args.keystore, passphrase)
    elif args.keystore.exists():
        store = await Keystore.open(args.keystore, passphrase)
    else:
        raise HavenError(f"no keystore at {args.keystore}: run `login` first")
    async with HavenClient(
        args.server, store, allow_insecure_http=args.allow_insecure_http
    ) as client:
        return await _dispatch(client, args, out, stdin or sys.stdin)


async def _dispatch(
    client: HavenClient, args: argparse.Namespace, out: TextIO, stdin: TextIO
) -> int:
    command = args.command
    if command == "register":
        password = _secret("HAVEN_PASSWORD", "Password: ")
        account = await client.register(args.handle, password, args.invite, args.display_name)
        _write(out, account.model_dump())
        return 0
    if command == "login":
        password = _secret("HAVEN_PASSWORD", "Password: ")
        me = await client.login(args.handle, password, device_name=args.device_name)
        _write(out, {"account_id": me.account_id, "device_id": client.store.state.device_id})
        return 0
    await client.resume()
    if command == "conversations":
        for conversation in await client.conversations():
            _write(out, conversation.model_dump())
    elif command == "send":
        receipt = await client.send(args.conversation_id, text_payload(args.text), args.urgent)
        _write(out, {"message_id": receipt.message_id})
        for resource in receipt.crisis_resources:
            _write(out, {"crisis_resource": resource.model_dump()})
    elif command == "listen":
        return await _listen(client, args.count, out)
    elif command == "safety-number":
        return await _safety(client, args.target, args.verify, out)
    elif command == "acknowledge":
        client.acknowledge_key_change(args.account_id)
    elif command == "push":
        await _push(client, args, out, stdin)
    elif command == "settings":
        await _settings(client, args, out)
    elif command == "availability":
        await _availability(client, args, out, stdin)
    return 0


async def _push(client: HavenClient, args: argparse.Namespace, out: TextIO, stdin: TextIO) -> None:
    if args.action == "status":
        _write(out, (await client.push_status()).model_dump(exclude_none=True))
    elif args.action == "remove":
        await client.remove_push()
        _write(out, {"set": False})
    else:
        given = stdin.readline().strip() if args.secret_stdin else None
        if given == "":
            raise InvalidSetting("--secret-stdin: no secret on stdin")
        secret = given or new_push_secret()
        status = (await client.set_push(args.url, secret)).model_dump(exclude_none=True)
        # A generated secret is shown this once: the relay needs it to verify signatures.
        _write(out, status if given else {**status, "secret": secret})


async def _settings(client: HavenClient, args: argparse.Namespace, out: TextIO) -> None:
    if args.action == "quiet-hours":
        zone = args.tz if args.tz else KEEP
        settings = await client.update_notification_settings(
            quiet_hours=(args.start, args.end), time_zone=zone
        )
    elif args.action == "no-quiet-hours":
        settings = await client.update_notification_settings(quiet_hours=None)
    elif args.action == "urgent-bypass":
        settings = await client.update_notification_settings(urgent_bypass=args.state == "on")
    else:
        settings = await client.notification_settings()
    _write(out, settings.model_dump(mode="json"))


async def _availability(
    client: HavenClient, args: argparse.Namespace, out: TextIO, stdin: TextIO
) -> None:
    if args.action == "set":
        answer = await client.set_availability(_availability_file(args.file, stdin))
        _write(out, answer.model_dump(mode="json"))
        return
    coach, conversation_id = await _coach(client, args.coach)
    shown = await client.coach_availability(coach.account_id)
    body = shown.model_dump(mode="json")
    if conversation_id is not None:
        body["reply_expectation"] = client.boundaries.expectation(coach, shown, time_zone=args.tz)
    _write(out, body)


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


async def _safety(client: HavenClient, target: str, verify: str | None, out: TextIO) -> int:
    number = await client.safety_number(target)
    groups = " ".join(number[i : i + 5] for i in range(0, len(number), 5))
    if verify:
        client.mark_verified(target, verify)
    _write(out, {"safety_number": groups, "verified": client.is_verified(target)})
    return 0


async def _listen(client: HavenClient, count: int, out: TextIO) -> int:
    await client.connect()
    seen = 0
    async for event in client.events():
        _write(out, event_json(event))
        if isinstance(event, InvalidMessage | KeyChanged):
            sys.stderr.write(f"WARNING: {type(event).__name__}: {getattr(event, 'reason', '')}\n")
        if isinstance(event, ReceivedMessage) and event.trust in ("key_changed", "unlisted"):
            sys.stderr.write(f"WARNING: message {event.message_id} trust: {event.trust}\n")
        if isinstance(event, CoachAway):
            sys.stderr.write(f"{event.reply_expectation}\n")
        if isinstance(event, ReceivedMessage | InvalidMessage):
            seen += 1
            if count and seen >= count:
                break
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(run(args, sys.stdout))
    except HavenApiError as exc:
        sys.stderr.write(f"error: {exc.code}: {exc.detail}\n")
        return 2
    except HavenError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
