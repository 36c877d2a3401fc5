"""Safety round 3 (issue 18, items 1 and 6) through the running services: the readable export
applies the live opener's rules offline (only pinned keys, revocation times, a verified
contact's unknown device refused, `urgent` from the signed envelope), and the decrypted files
are 0600 from creation and go with the panic wipe."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import stat
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import nacl.public
import nacl.signing
import pytest

from haven_client.export import decrypt_export, download_export, write_readable
from haven_crypto import crypto
from haven_crypto.envelope import seal
from tests.support.inprocess import AppStack
from tests.support.sdk import SdkDevice
from tools.api import Api, Session

PASSWORD = "a long enough password 1"

# One stack for this module's tests (tests/support/sharing.py); each has accounts of its own.
SHARED_STACK: dict[str, str] = {}


async def _device(base: str, tmp: Path, handle: str, code: str) -> SdkDevice:
    device = await SdkDevice.create(base, tmp, handle)
    await device.client.register(handle, PASSWORD, code, handle.title())
    await device.client.login(handle, PASSWORD)
    return device


@pytest.fixture
async def pair(
    api: Api, operator: Session, app_stack: AppStack, tmp_path: Path
) -> AsyncIterator[tuple[SdkDevice, SdkDevice, str]]:
    base = app_stack.gateway_url
    tag = uuid.uuid4().hex[:8]
    coach_handle, client_handle = f"coach_x3{tag}", f"client_x3{tag}"
    coach = await _device(base, tmp_path, coach_handle, await api.invite(operator, "coach"))
    coach_session = await api.login(coach_handle, PASSWORD)
    client = await _device(base, tmp_path, client_handle, await api.invite(coach_session, "client"))
    [conversation] = await client.client.conversations()
    yield coach, client, conversation.conversation_id
    for device in (coach, client):
        await device.close()


async def _exported(device: SdkDevice, target: Path, messages: int) -> dict[str, Any]:
    async with asyncio.timeout(15):
        while True:
            await download_export(device.client, target)
            text = await asyncio.to_thread(target.read_text, encoding="utf-8")
            document: dict[str, Any] = json.loads(text)
            if len(document["messages"]) >= messages:
                return document
            await asyncio.sleep(0.2)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _invented(
    document: dict[str, Any], cid: str, coach_id: str, handle: str, revoked_at: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A device the server invents for the coach, and a message it seals to the client."""
    identity, kx = nacl.signing.SigningKey.generate(), nacl.public.PrivateKey.generate()
    kx_public = bytes(kx.public_key)
    device_id = uuid.uuid4().hex[:16]
    [own] = document["devices"]
    conversation = document["conversations"][0]
    genuine = document["messages"][-1]
    device = {
        "device_id": device_id,
        "account_id": coach_id,
        "identity_key": crypto.b64e(bytes(identity.verify_key)),
        "kx_key": crypto.b64e(kx_public),
        "kx_signature": crypto.b64e(crypto.sign_kx(identity, handle, kx_public)),
        "previous_kx_keys": [],
        "created_at": conversation["created_at"],
        "revoked_at": revoked_at,
    }
    message_id = str(uuid.uuid4())
    envelope = seal(
        json.dumps({"type": "text", "body": "invented words", "sent_at": 1}).encode(),
        conversation_id=cid,
        message_id=message_id,
        sender_device_id=device_id,
        identity=identity,
        kx=kx,
        recipients={own["device_id"]: crypto.b64d(own["kx_key"]), device_id: kx_public},
        urgent=False,
    )
    item = {
        **genuine,
        "message_id": message_id,
        "seq": genuine["seq"] + 100 + len(conversation["devices"]),
        "sender_device_id": device_id,
        "envelope": envelope.to_wire(),
    }
    return device, item


async def test_the_readable_export_opens_only_what_the_live_opener_would(
    pair: tuple[SdkDevice, SdkDevice, str], tmp_path: Path
) -> None:
    coach, client, cid = pair
    await client.client.send_text(cid, "hello coach")  # lists (and pins) the coach's device
    await coach.client.send_text(cid, "first words")
    await asyncio.sleep(1.1)
    await coach.client.send_text(cid, "second words")
    document = await _exported(client, tmp_path / "export.json", 3)
    coach_me = await coach.client.me()
    coach_id, coach_handle = coach_me.account_id, coach_me.handle
    first, second = [m for m in document["messages"] if m["sender_account_id"] == coach_id]

    forged = copy.deepcopy(document)
    by_id = {m["message_id"]: m for m in forged["messages"]}
    [own] = [m for m in forged["messages"] if m["sender_account_id"] != coach_id]
    by_id[own["message_id"]]["urgent"] = True  # the server's field, not the signed flag
    # A revocation the export states: what the device sent after it is refused.
    [coach_device] = [
        d
        for d in forged["conversations"][0]["devices"]
        if d["device_id"] == second["sender_device_id"]
    ]
    revoked = datetime.fromisoformat(second["server_ts"].replace("Z", "+00:00"))
    coach_device["revoked_at"] = _iso(revoked - timedelta(milliseconds=500))
    active, active_item = _invented(forged, cid, coach_id, coach_handle, None)
    gone, gone_item = _invented(
        forged, cid, coach_id, coach_handle, _iso(datetime.now().astimezone())
    )
    forged["conversations"][0]["devices"] += [active, gone]
    forged["messages"] += [active_item, gone_item]

    def opened() -> dict[str, dict[str, Any]]:
        readable = decrypt_export(forged, client.client.store)
        return {m["message_id"]: m for m in readable["messages"]}

    unverified = opened()
    assert unverified[first["message_id"]]["status"] == "ok"
    assert unverified[first["message_id"]]["urgent"] is False
    # A server that flips `urgent` contradicts the signed flag: refused, never shown urgent.
    assert unverified[own["message_id"]]["status"] == "unreadable"
    assert unverified[own["message_id"]]["urgent"] is False
    assert unverified[second["message_id"]]["status"] == "unreadable"
    assert unverified[active_item["message_id"]]["status"] == "unreadable"
    # Revoked before this device saw it, contact never verified: shown, marked unlisted.
    assert unverified[gone_item["message_id"]]["status"] == "ok"
    assert unverified[gone_item["message_id"]]["trust"] == "unlisted"

    number = await client.client.safety_number(cid)
    client.client.mark_verified(cid, number)
    verified = opened()
    assert verified[first["message_id"]]["status"] == "ok"
    assert verified[first["message_id"]]["trust"] == "verified"
    for refused in (active_item, gone_item):
        assert verified[refused["message_id"]]["status"] == "unreadable", verified[
            refused["message_id"]
        ]
        assert "invented words" not in json.dumps(verified[refused["message_id"]])


async def test_decrypted_exports_are_0600_and_go_with_the_panic_wipe(
    pair: tuple[SdkDevice, SdkDevice, str], tmp_path: Path
) -> None:
    _coach, client, cid = pair
    await client.client.send_text(cid, "for my eyes only")
    document = await _exported(client, tmp_path / "mine.json", 1)
    readable = decrypt_export(document, client.client.store)
    json_path, html_path = tmp_path / "mine.readable.json", tmp_path / "mine.readable.html"
    previous = os.umask(0)  # the files' mode must not depend on the caller's umask
    try:
        write_readable(readable, json_path, html_path, client.client.store)
    finally:
        os.umask(previous)
    for path in (json_path, html_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)
    await client.client.panic()
    assert not json_path.exists() and not html_path.exists()
