"""The attachment retention sweep reads its conversations through a cursor, batch by batch:
`distinct` answers in one document and fails past MongoDB's 16 MB, which a large deployment's
conversation ids reach. Against the real store through the real driver, and through the
running gateway's own sweep across batch boundaries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from services.gateway.edge.keys import attachments_key
from services.gateway.stores.attachments import AttachmentStore
from services.gateway.usecases import attachments as usecase
from tests.support.attachments import send_with, upload
from tests.support.inprocess import AppStack
from tools.api import Api, Session, coach_and_client
from tools.infra import Infra

SHARED_STACK: dict[str, str] = {}


class Commands(monitoring.CommandListener):
    """The names of the commands the driver sends."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def blob(conversation_id: str, state: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    metadata = {"conversation_id": conversation_id, "uploader": "acc_x", "state": state}
    if state == "sent":
        metadata |= {"message_id": str(uuid.uuid4()), "sent_at": now}
    return {
        "_id": f"att_{uuid.uuid4().hex}",
        "filename": "blob",
        "length": 17,
        "chunkSize": 65553,
        "uploadDate": now,
        "metadata": {**metadata, "uploaded_at": now},
    }


async def test_sent_conversations_stream_through_a_cursor_in_order(
    infra: Infra, isolation: tuple[str, str]
) -> None:
    commands = Commands()
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        infra.mongo_url, tz_aware=True, event_listeners=[commands]
    )
    try:
        db = client[f"{isolation[1]}_sweepcursor"]
        sent = [f"conv_{n:03d}" for n in range(23)]
        docs = [blob(c, "sent") for c in reversed(sent) for _ in range(2)]
        docs += [blob("conv_pending_only", "pending"), blob("conv_uploading", "uploading")]
        docs += [blob(sent[4], "pending")]
        await db["attachments.files"].insert_many(docs)
        commands.names.clear()

        found = [c async for c in AttachmentStore(db).sent_conversations(batch_size=5)]

        assert found == sent  # each once, in order, only those with sent blobs
        assert "distinct" not in commands.names
        assert commands.names.count("aggregate") == 1
        assert commands.names.count("getMore") >= 4  # 23 ids in batches of 5
    finally:
        await client.drop_database(f"{isolation[1]}_sweepcursor")
        await client.close()


async def test_the_running_sweep_expires_by_retention_across_batches(
    api: Api,
    operator: Session,
    app_stack: AppStack,
    mongo_client: AsyncMongoClient[Any],
    isolation: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One conversation per batch: each batch groups its own by retention."""
    monkeypatch.setattr(usecase, "SWEEP_BATCH", 1)
    files = mongo_client[f"{isolation[1]}_gateway"]["attachments.files"]
    sweep = app_stack.replicas["gateway"].runners[0].app[attachments_key]
    blobs: dict[int | None, str] = {}
    for days in (3, None, 10):
        coach, client, cid, devices = await coach_and_client(
            api, operator, f"sweep{uuid.uuid4().hex[:6]}"
        )
        choice = {"retention_days": days}
        path = f"/v1/conversations/{cid}/settings"
        reply = await api.call("PUT", path, choice, client.access_token)
        assert reply.status == 200, reply.body
        status, body = await upload(api, coach, cid, b"s" * 100, 100)
        assert status == 201, body
        sent, _, _ = await send_with(api, coach, cid, devices, [body["attachment_id"]])
        assert sent == 202
        blobs[days] = body["attachment_id"]

    async def kept() -> set[int | None]:
        return {d for d, a in blobs.items() if await files.find_one({"_id": a}) is not None}

    now = datetime.now(UTC)
    assert await sweep.expire(now + timedelta(days=1)) == 0
    assert await kept() == {3, None, 10}
    assert await sweep.expire(now + timedelta(days=5)) == 1
    assert await kept() == {None, 10}
    assert await sweep.expire(now + timedelta(days=11)) == 1
    assert await kept() == {None}
