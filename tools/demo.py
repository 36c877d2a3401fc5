"""`make demo`: an operator, a coach and a client, a few end-to-end encrypted messages shown
decrypted on each side, then what the server really stored for them: ciphertext only.

Runs against the stack of `make up` when it answers (HAVEN_DEMO_SERVER, default
http://127.0.0.1:8080, with its store at HAVEN_MONGO_URL), else starts a throw-away one.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from haven_client import HavenClient, Keystore, ReceivedMessage
from haven_client.export import delete_account
from haven_client.keystore import KdfParams
from services.gateway.security.passwords import PasswordHasher
from services.gateway.stores.accounts import AccountRepository
from services.gateway.stores.audit import AuditLog
from services.gateway.usecases.operators import Operators
from shared.logging import configure_logging
from shared.mongo import Mongo
from tools.demo_stack import Target, own_stack, running_target

CONVERSATION = [
    ("client", "Hi Kim, the breathing exercise helped before the meeting today."),
    ("coach", "That's wonderful to hear, Sam. What did you notice in your body?"),
    ("client", "My shoulders dropped. I want to try it again tomorrow."),
]
DEMO_CRISIS = [
    {
        "name": "Demo crisis line (set by make demo)",
        "contact": "000 000 000",
        "description": "Replace with real resources: haven-admin crisis-resources set FILE",
        "region": "demo",
    }
]
Say = Callable[[str], None]


async def run_demo(target: Target, say: Say) -> dict[str, Any]:
    """The whole demo against `target`; returns what it found (for the test)."""
    tag = secrets.token_hex(3)
    password = secrets.token_urlsafe(18)
    with tempfile.TemporaryDirectory(prefix="haven-demo-") as directory:
        people, handles = await _cast(target, Path(directory), tag, password, say)
        try:
            sent, seen = await _talk(people, say)
            stored = await _stored(target, [m["message_id"] for m in sent])
            _show_stored(stored, sent, say)
            leaked = [
                m["body"]
                for m in sent
                if any(m["body"] in json.dumps(d, default=str) for d in stored)
            ]
            say(f"   plaintext found in the stored documents: {'YES' if leaked else 'none'}")
            if not target.started:  # your own stack: take back what the demo made there
                await _clean_up(people, handles, password, say)
        finally:
            for client in people.values():
                await client.close()
    return {"sent": sent, "seen": seen, "stored": stored, "leaked": leaked, "handles": handles}


async def _clean_up(
    people: dict[str, HavenClient], handles: dict[str, str], password: str, say: Say
) -> None:
    """The coach and the client delete their accounts (as `haven delete-account` does); the
    operator cannot delete itself, so the demo says plainly that it stays."""
    for role in ("client", "coach"):
        await delete_account(people[role], password)
    op = handles["operator"]
    say(
        f"5. removed the demo's client {handles['client']} and coach {handles['coach']} (their"
        f" accounts are deleted); the operator {op} stays on your stack: deactivate it with"
        f" `haven-admin accounts deactivate {op}` if you do not want it"
    )


async def _cast(
    target: Target, directory: Path, tag: str, password: str, say: Say
) -> tuple[dict[str, HavenClient], dict[str, str]]:
    """The operator (created in the gateway's database, as `haven-admin create-operator`
    does), the coach they invite, the client the coach invites."""
    handles = {"operator": f"demo-op-{tag}", "coach": f"kim-{tag}", "client": f"sam-{tag}"}
    await _create_operator(target, handles["operator"], password)
    people = {}
    for role in handles:
        store = await Keystore.create(directory / f"{role}.keystore", password, KdfParams.minimal())
        people[role] = HavenClient(target.server, store)
    await people["operator"].login(handles["operator"], password)
    say(f"1. operator {handles['operator']} created (haven-admin create-operator) and signed in")
    if not await people["operator"].crisis_resources(refresh=True):
        await people["operator"].transport.request(
            "PUT", "/v1/admin/crisis-resources", json={"resources": DEMO_CRISIS}
        )
        say("   no crisis resources were set: set a demo entry (replace it before real use)")
    coach_code = (await people["operator"].create_invite("coach")).code
    await people["coach"].register(handles["coach"], password, coach_code, "Kim")
    await people["coach"].login(handles["coach"], password)
    client_code = (await people["coach"].create_invite("client")).code
    await people["client"].register(handles["client"], password, client_code, "Sam")
    await people["client"].login(handles["client"], password)
    say(
        f"2. coach {handles['coach']} joined with the operator's invite, client "
        f"{handles['client']} with the coach's: one conversation between them"
    )
    return people, handles


async def _create_operator(target: Target, handle: str, password: str) -> None:
    mongo = Mongo(target.mongo_url, f"{target.db_prefix}_gateway")
    hasher = PasswordHasher(2, 64, 1, 4)
    try:
        operators = Operators(AccountRepository(mongo.db), hasher, AuditLog(mongo.db))
        if not await operators.create(handle, password):
            raise RuntimeError(f"could not create the demo operator {handle}")
    finally:
        hasher.close()
        await mongo.close()


async def _talk(
    people: dict[str, HavenClient], say: Say
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    coach, client = people["coach"], people["client"]
    [conversation] = await client.conversations()
    cid = conversation.conversation_id
    await coach.conversations()
    for device in (coach, client):
        await device.connect()
    say("3. messages, as each side's device decrypted them:")
    sent: list[dict[str, Any]] = []
    seen: dict[str, list[str]] = {"coach": [], "client": []}
    for author, text in CONVERSATION:
        sender, reader = (client, coach) if author == "client" else (coach, client)
        reader_role = "coach" if author == "client" else "client"
        message_id = await sender.send_text(cid, text)
        body = await _receive(reader, message_id)
        seen[reader_role].append(body)
        sent.append({"message_id": message_id, "author": author, "body": text})
        say(f"   {author:>6} wrote:       {text}")
        say(f"   {reader_role:>6} decrypted:   {body}")
    return sent, seen


async def _receive(reader: HavenClient, message_id: str) -> str:
    async with asyncio.timeout(20):
        async for event in reader.events():
            if isinstance(event, ReceivedMessage) and event.message_id == message_id:
                return event.body or ""
    raise RuntimeError("the event stream ended")


async def _stored(target: Target, message_ids: list[str]) -> list[dict[str, Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(target.mongo_url)
    try:
        collection = client[f"{target.db_prefix}_messaging"]["messages"]
        found = {
            d["message_id"]: d async for d in collection.find({"message_id": {"$in": message_ids}})
        }
    finally:
        await client.close()
    return [found[m] for m in message_ids if m in found]


def _show_stored(stored: list[dict[str, Any]], sent: list[dict[str, Any]], say: Say) -> None:
    say("4. what the server stored for them (MongoDB, messaging's `messages`):")
    for document in stored:
        envelope = document["envelope"]
        say(
            f"   seq {document['seq']}: ciphertext {_short(envelope['ciphertext'])}  "
            f"nonce {_short(envelope['nonce'])}  keys for {len(envelope['keys'])} devices  "
            f"signature {_short(envelope['signature'])}"
        )
    if len(stored) != len(sent):
        say(f"   only {len(stored)} of {len(sent)} messages were found in the store")


def _short(value: Any) -> str:
    text = str(value)
    return f"{text[:16]}… ({len(text)} chars)" if len(text) > 20 else text


def main() -> int:
    started = time.monotonic()
    configure_logging("demo", "warning")

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    target = running_target()
    if target is not None:
        say(f"Haven demo against the running stack at {target.server}")
        result = asyncio.run(run_demo(target, say))
    else:
        say("No stack answers at http://127.0.0.1:8080: starting a throw-away one")
        with own_stack() as own:
            result = asyncio.run(run_demo(own, say))
    ok = not result["leaked"] and len(result["stored"]) == len(CONVERSATION)
    say(f"{'done' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
