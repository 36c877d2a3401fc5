"""The store-backed rate buckets against the real MongoDB-wire server: the same decisions as
the reference arithmetic, and no burst is ever exceeded by parallel requests."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from services.gateway.model.rates import Rate, decide
from services.gateway.stores import INDEXES
from services.gateway.stores.ratelimits import RateBuckets
from shared.mongo import Mongo
from tools.infra import Infra


@pytest.fixture
async def buckets(
    infra: Infra, isolation: tuple[str, str], mongo_client: AsyncMongoClient
) -> AsyncIterator[RateBuckets]:
    _, prefix = isolation
    mongo = Mongo(infra.mongo_url, f"{prefix}_gateway")
    await mongo.ensure_indexes(INDEXES)
    yield RateBuckets(mongo.db)
    await mongo.close()


async def test_the_store_decides_exactly_as_the_reference_arithmetic(
    buckets: RateBuckets,
) -> None:
    rate = Rate.parse("30/minute,10")
    # Now, not a fixed date: bucket rows carry a TTL, and the store's sweeper removes rows
    # whose expiry lies in the past while the test still reads them.
    start = datetime.now(UTC).replace(microsecond=0)
    chance = random.Random(7)
    offset, tat = 0.0, None
    for _ in range(120):
        offset += chance.choice([0.0, 0.0, 0.5, 1.0, 3.0, 25.0])
        expected, tat = decide(rate, tat, start.timestamp() + offset)
        got = await buckets.take("send:acct", rate, start + timedelta(seconds=offset))
        assert got == expected, offset


async def test_parallel_first_requests_grant_exactly_the_burst(buckets: RateBuckets) -> None:
    """Many keys at once, each new: an upsert racing its twin once spent tokens nobody got."""
    rate = Rate.parse("1/hour,5")
    now = datetime.now(UTC)
    keys, each = [f"invites:{n}" for n in range(6)], 12  # more than the burst, all at once
    decisions = await asyncio.gather(
        *(buckets.take(k, rate, now) for k in keys for _ in range(each))
    )
    granted = {
        k: sum(d.allowed for d in decisions[i * each : (i + 1) * each]) for i, k in enumerate(keys)
    }
    assert granted == dict.fromkeys(keys, 5)
    assert all(d.retry_after >= 1 for d in decisions if not d.allowed)
    other = await buckets.take("invites:other", rate, now)  # keys do not share budgets
    assert other.allowed
