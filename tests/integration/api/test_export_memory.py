"""The export streams: serving thousands of messages holds about one page in memory, not the
history. Memory is measured with tracemalloc around the request, in the process that runs all
three services (gateway, messaging, notification) and reads the response; a loaded machine
makes it slower, never bigger."""

from __future__ import annotations

import base64
import os
import tracemalloc
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tools.api import Api, Session, coach_and_client

SHORT, LONG = 1000, 3000
CIPHERTEXT = 2048  # bytes per message: the long history is ~10 MiB of JSON


def b64(size: int) -> str:
    return base64.urlsafe_b64encode(os.urandom(size)).rstrip(b"=").decode()


def stored_message(cid: str, seq: int, sender: Session, now: datetime) -> dict[str, Any]:
    message_id = str(uuid.uuid4())
    envelope = {
        "message_id": message_id,
        "sender_device_id": sender.device_id,
        "alg": "haven-v1",
        "urgent": False,
        "nonce": b64(24),
        "ciphertext": b64(CIPHERTEXT),
        "keys": {sender.device_id: b64(72)},
        "commitment": b64(32),
        "signature": b64(64),
    }
    return {
        "_id": f"{cid}:{message_id}",
        "conversation_id": cid,
        "message_id": message_id,
        "seq": seq,
        "sender_account_id": sender.account_id,
        "sender_device_id": sender.device_id,
        "server_ts": now,
        "urgent": False,
        "envelope": envelope,
        "recipient_device_ids": [sender.device_id],
        "deleted": False,
        "signature": envelope["signature"],
    }


async def exported_bytes(api: Api, session: Session) -> tuple[int, int]:
    """(bytes received, peak bytes allocated meanwhile), the body read and dropped in chunks."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    received = 0
    headers = {"Authorization": f"Bearer {session.access_token}"}
    async with api.http.get(f"{api.base}/v1/me/export", headers=headers) as response:
        assert response.status == 200
        assert response.headers.get("Transfer-Encoding") == "chunked"
        async for chunk in response.content.iter_chunked(64 * 1024):
            received += len(chunk)
            tail = chunk[-16:]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert tail.endswith(b'"complete":true}')
    return received, peak


# Writing, exporting and dropping ~13 MiB in the embedded store takes about a minute late in a
# suite run (it slows as its process ages): more than the suite's default hang guard.
@pytest.mark.timeout(240)
async def test_export_memory_stays_flat_over_thousands_of_messages(
    api: Api, operator: Session, mongo_client: AsyncMongoClient[Any], isolation: tuple[str, str]
) -> None:
    _coach, client, cid, _ = await coach_and_client(api, operator, "mem")
    messaging = mongo_client[f"{isolation[1]}_messaging"]
    messages, counters = messaging["messages"], messaging["counters"]
    now = datetime.now(UTC)
    stored = 0

    async def grow_to(total: int) -> None:
        nonlocal stored
        while stored < total:
            batch = [
                stored_message(cid, seq, client, now) for seq in range(stored + 1, stored + 501)
            ]
            await messages.insert_many(batch)
            stored += len(batch)
        # As messaging keeps it: the conversation's seq counter.
        await counters.update_one({"_id": cid}, {"$set": {"seq": stored}}, upsert=True)

    await grow_to(SHORT)
    short_size, short_peak = await exported_bytes(api, client)
    await grow_to(LONG)
    long_size, long_peak = await exported_bytes(api, client)

    print(
        f"export of {SHORT} messages: {short_size / 2**20:.1f} MiB, peak {short_peak / 2**20:.2f}"
        f" MiB; of {LONG}: {long_size / 2**20:.1f} MiB, peak {long_peak / 2**20:.2f} MiB"
    )
    assert long_size > LONG * CIPHERTEXT  # every message went through
    assert long_size > 2.5 * short_size
    # Three times the history, about the same memory: one page (~100 messages, <= 512 KiB of
    # envelopes) is held at a time, never the history.
    assert long_peak < short_peak * 1.5 + 2**20, (short_peak, long_peak)
    assert long_peak < long_size / 2, (long_size, long_peak)
