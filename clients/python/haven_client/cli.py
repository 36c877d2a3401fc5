"""``python -m haven_client``: a thin companion over the SDK for terminals and scripts.

Secrets never go on the command line (it leaks into shell history and ``ps``): the
account password comes from ``HAVEN_PASSWORD`` or a prompt, the keystore
passphrase from ``HAVEN_KEYSTORE_PASSPHRASE`` or a prompt.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from haven_client.client import HavenClient
from haven_client.errors import HavenApiError, HavenError
from haven_client.events import Event, InvalidMessage, KeyChanged, ReceivedMessage
from haven_client.keystore import Keystore
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
    return parser


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
    body = {"event": type(event).__name__, **dataclasses.asdict(event)}
    if isinstance(event, ReceivedMessage):
        body["body"] = event.body
    return body


async def run(args: argparse.Namespace, out: TextIO) -> int:
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
        return await _dispatch(client, args, out)


async def _dispatch(client: HavenClient, args: argparse.Namespace, out: TextIO) -> int:
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
    return 0


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
