"""Retention in messaging over the real broker and store: `retention.changed` stamps
`expires_at` on new and existing messages, reads leave expired ones out at once, and the
service's own expiry sweep deletes them (no store TTL index on `messages`). A retention "day"
lasts one second here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, IndexModel

from services.messaging import documents, retention
from services.messaging.retention import INDEXES, Retention, RetentionRepository
from shared.events import RetentionChanged, RetentionData
from shared.logging import correlation
from shared.mongo import Mongo
from shared.topology import Topology
from tests.support.messaging import Harness, messaging_harness, publish_command, send_command
from tools.infra import Infra

DAY = 1.0


@pytest.fixture
async def retention_harness(
    infra: Infra,
    isolation: tuple[str, str],
    clean_broker: Topology,
    mongo_client: AsyncMongoClient[Any],
) -> AsyncIterator[Harness]:
    async with messaging_harness(
        infra, isolation, clean_broker, mongo_client, retention_day_seconds=DAY
    ) as value:
        yield value


async def set_retention(
    harness: Harness, conversation_id: str, days: int | None, at: datetime | None = None
) -> None:
    with correlation(None):
        event = RetentionChanged.create(
            RetentionData(conversation_id=conversation_id, retention_days=days), occurred_at=at
        )
    await harness.bus.publish_event(event)


async def stored(harness: Harness, conversation_id: str, n: int) -> list[str]:
    before = len(harness.tap.of_type("message.stored"))
    commands = [send_command(conversation_id) for _ in range(n)]
    for command in commands:
        await publish_command(harness.bus, command)
    await harness.tap.count("message.stored", before + n)
    return [c.data.message_id for c in commands]


async def until(check: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


async def expiries(harness: Harness, conversation_id: str) -> list[datetime | None]:
    cursor = harness.db["messages"].find({"conversation_id": conversation_id}).sort("seq", 1)
    return [doc.get("expires_at") async for doc in cursor]


async def history_seqs(harness: Harness, conversation_id: str) -> list[int]:
    page = await harness.rpc("messaging.history", {"conversation_id": conversation_id})
    return [m["seq"] for m in page["messages"]]


async def test_expired_messages_leave_history_summary_and_then_the_store(
    retention_harness: Harness, mongo_client: AsyncMongoClient[Any]
) -> None:
    harness = retention_harness
    await set_retention(harness, "conv-r", 2)  # two one-second days
    await until(lambda: _has_retention(harness, "conv-r"))
    await stored(harness, "conv-r", 3)
    stamped = await expiries(harness, "conv-r")
    docs = await harness.db["messages"].find({"conversation_id": "conv-r"}).to_list()
    for doc, expiry in zip(sorted(docs, key=lambda d: d["seq"]), stamped, strict=True):
        assert expiry == doc["server_ts"] + timedelta(seconds=2 * DAY)
    assert await history_seqs(harness, "conv-r") == [1, 2, 3]

    async def gone_from_reads() -> bool:
        return await history_seqs(harness, "conv-r") == []

    await until(gone_from_reads)
    summary = await harness.rpc(
        "messaging.summary", {"account_id": "acct-coach", "conversation_ids": ["conv-r"]}
    )
    assert summary["conversations"]["conv-r"]["last_seq"] == 0

    async def gone_from_the_store() -> bool:  # the service's sweep, every half second here
        return await harness.db["messages"].count_documents({"conversation_id": "conv-r"}) == 0

    await until(gone_from_the_store)
    indexes = await harness.db["messages"].index_information()
    assert not [name for name, info in indexes.items() if "expireAfterSeconds" in info]


async def _has_retention(harness: Harness, conversation_id: str) -> bool:
    return await harness.db["retention"].find_one({"_id": conversation_id}) is not None


async def test_a_change_of_retention_reapplies_to_stored_messages(
    retention_harness: Harness,
) -> None:
    harness = retention_harness
    await stored(harness, "conv-k", 2)
    assert await expiries(harness, "conv-k") == [None, None]  # no retention: kept

    await set_retention(harness, "conv-k", 30)

    async def stamped() -> bool:
        return all(e is not None for e in await expiries(harness, "conv-k"))

    await until(stamped)
    await set_retention(harness, "conv-k", None)

    async def cleared() -> bool:
        return await expiries(harness, "conv-k") == [None, None]

    await until(cleared)
    assert await history_seqs(harness, "conv-k") == [1, 2]


async def test_an_older_retention_event_never_overrides_a_newer_one(
    retention_harness: Harness,
) -> None:
    harness = retention_harness
    now = datetime.now(UTC)
    await set_retention(harness, "conv-o", None, at=now)
    await until(lambda: _has_retention(harness, "conv-o"))
    await set_retention(harness, "conv-o", 1, at=now - timedelta(minutes=1))  # late arrival
    await set_retention(harness, "conv-marker", 1)  # queued behind it: handled means seen
    await until(lambda: _has_retention(harness, "conv-marker"))
    await stored(harness, "conv-o", 1)
    doc = await harness.db["retention"].find_one({"_id": "conv-o"})
    assert doc is not None and doc["retention_days"] is None
    assert await expiries(harness, "conv-o") == [None]


async def test_export_pages_by_conversation_then_seq_and_skips_expired(
    retention_harness: Harness,
) -> None:
    harness = retention_harness
    await stored(harness, "conv-b", 2)
    await stored(harness, "conv-a", 3)
    # An expired message of the caller's conversation that the sweep has not removed yet.
    await harness.db["messages"].update_one(
        {"conversation_id": "conv-a", "seq": 2},
        {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}},
    )
    seen: list[tuple[str, int]] = []
    after = None
    pages = 0
    while True:
        request: dict[str, Any] = {"conversation_ids": ["conv-a", "conv-b"], "limit": 2}
        if after:
            request["after"] = after
        page = await harness.rpc("messaging.export", request)
        pages += 1
        seen += [(m["conversation_id"], m["seq"]) for m in page["messages"]]
        assert all("envelope" in m for m in page["messages"])
        after = page.get("next")
        if after is None:
            break
    assert seen == [("conv-a", 1), ("conv-a", 3), ("conv-b", 1), ("conv-b", 2)]
    assert pages == 2


async def test_a_change_another_replica_applied_reaches_the_next_insert_here(
    mongo_client: AsyncMongoClient[Any], isolation: tuple[str, str]
) -> None:
    """`stamp` goes by this replica's copy of the retention; `settle` reads the store after
    the insert, so a change that another replica applied meanwhile still reaches the new
    messages (and this replica's copy)."""
    db = mongo_client[f"{isolation[1]}_messaging"]
    here, there = (Retention(RetentionRepository(db=db, day_seconds=DAY)) for _ in range(2))
    repo = RetentionRepository(db=db, day_seconds=DAY)

    async def insert(n: int) -> list[dict[str, Any]]:
        docs = [
            documents.message_document(send_command("conv-x").data, i, documents.server_now())
            for i in range(n)
        ]
        await here.stamp(docs)
        await db["messages"].insert_many(docs)
        await here.settle(docs)
        return docs

    first = await insert(1)  # here remembers "kept until deleted"
    assert "expires_at" not in first[0]
    with correlation(None):
        change = RetentionChanged.create(RetentionData(conversation_id="conv-x", retention_days=3))
    await there.changed(change)

    later = await insert(2)

    cursor = db["messages"].find({"_id": {"$in": [d["_id"] for d in later]}})
    async for doc in cursor:
        assert doc["expires_at"] == repo.expires_at(doc["server_ts"], 3)
    again = await insert(1)  # and this replica's copy has caught up: stamped right at once
    assert again[0]["expires_at"] == repo.expires_at(again[0]["server_ts"], 3)


async def test_the_sweep_deletes_what_expired_a_batch_at_a_time_and_nothing_else(
    mongo_client: AsyncMongoClient[Any], isolation: tuple[str, str], monkeypatch: Any
) -> None:
    db = mongo_client[f"{isolation[1]}_messaging"]
    monkeypatch.setattr(retention, "EXPIRY_BATCH", 3)
    now = datetime.now(UTC)
    await db["messages"].insert_many(
        [{"_id": f"old-{i}", "expires_at": now - timedelta(seconds=i + 1)} for i in range(7)]
        + [{"_id": "due-now", "expires_at": now}]
        + [{"_id": "tomorrow", "expires_at": now + timedelta(days=1)}, {"_id": "kept"}]
    )
    repo = RetentionRepository(db=db, day_seconds=DAY)
    assert await repo.delete_expired(now) == 8  # three batches: 3, 3 and 2
    assert sorted(await db["messages"].distinct("_id")) == ["kept", "tomorrow"]
    assert await repo.delete_expired(now) == 0


async def test_an_existing_ttl_index_on_messages_is_replaced_at_start(
    mongo_client: AsyncMongoClient[Any], isolation: tuple[str, str], infra: Infra
) -> None:
    """A deployment from before the sweep has the TTL index `ttl_expires_at` on the same key;
    start-up drops it (the store refuses a second index on the same keys), twice harmlessly."""
    db = mongo_client[f"{isolation[1]}_messaging"]
    legacy = IndexModel("expires_at", expireAfterSeconds=0, name="ttl_expires_at")
    await db["messages"].create_indexes([legacy])
    mongo = Mongo(infra.mongo_url, db.name)
    try:
        await mongo.ensure_indexes(INDEXES)
        await mongo.ensure_indexes(INDEXES)  # every replica runs it at start
    finally:
        await mongo.close()
    indexes = await db["messages"].index_information()
    assert "ttl_expires_at" not in indexes
    assert indexes["expires_at"]["sparse"] is True
    assert not [name for name, info in indexes.items() if "expireAfterSeconds" in info]
