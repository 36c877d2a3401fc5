"""SecantusDB's TTL sweeper really deletes: a document whose `expires_at` has passed is
removed by the background sweep, without anyone asking (docs/deploy.md "Where data lives"
states the granularity: the sweep runs every `ttl_sweep_seconds`, 60 s by default, and
`secantusd-py` does not pass that setting on, so a deployment on it expires within a minute).

The session's store runs with the 60 s default; this test starts one of its own in this
process with a half-second sweep, which is the same sweeper on a shorter period."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, IndexModel
from secantus.server import SecantusDBServer


@pytest.fixture
def fast_sweeping_store() -> Iterator[str]:
    server = SecantusDBServer(
        host="127.0.0.1", port=0, storage_path=":memory:", ttl_sweep_seconds=0.5
    )
    server.start()
    try:
        yield f"mongodb://127.0.0.1:{server.port}"
    finally:
        server.stop()


async def test_the_background_sweeper_deletes_expired_documents(fast_sweeping_store: str) -> None:
    client: AsyncMongoClient[Any] = AsyncMongoClient(fast_sweeping_store, tz_aware=True)
    try:
        messages = client["ttl_check"]["messages"]
        await messages.create_indexes([IndexModel("expires_at", expireAfterSeconds=0)])
        now = datetime.now(UTC)
        await messages.insert_many(
            [
                {"_id": "expired", "expires_at": now - timedelta(seconds=1)},
                {"_id": "soon", "expires_at": now + timedelta(seconds=1)},
                {"_id": "later", "expires_at": now + timedelta(hours=1)},
                {"_id": "kept"},  # no expiry: retention "keep"
            ]
        )
        async with asyncio.timeout(10):
            while await messages.count_documents({}) != 2:
                await asyncio.sleep(0.1)
        assert sorted(await messages.distinct("_id")) == ["kept", "later"]
    finally:
        await client.close()
