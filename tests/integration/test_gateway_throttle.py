"""The login throttle against the real store: a counter far past the quota still answers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pymongo import AsyncMongoClient

from services.gateway.stores.throttle import Throttle
from shared.events import utcnow

CAP = timedelta(minutes=15)


async def test_a_huge_stored_counter_waits_the_cap_instead_of_failing(
    mongo_client: AsyncMongoClient, isolation: tuple[str, str]
) -> None:
    db = mongo_client[f"{isolation[1]}_gateway"]
    throttle = Throttle(db)
    await db.login_throttle.insert_one({"_id": "h:x|a:y", "failures": 10**6})
    now = utcnow()
    assert await throttle.reserve("h:x|a:y", now, 5, CAP) is None  # its window had passed
    blocked = await throttle.reserve("h:x|a:y", now, 5, CAP)
    assert blocked is not None
    assert abs((blocked - (now + CAP)).total_seconds()) < 1
    stored = await db.login_throttle.find_one({"_id": "h:x|a:y"})
    assert stored["failures"] == 10**6 + 1


async def test_parallel_first_attempts_on_new_keys_all_fit_the_free_quota(
    mongo_client: AsyncMongoClient, isolation: tuple[str, str]
) -> None:
    """A racing upsert once counted one attempt twice: a fifth parallel login got 429."""
    throttle = Throttle(mongo_client[f"{isolation[1]}_gateway"])
    now = utcnow()
    keys = [f"h:{n}|a:z" for n in range(10)]
    waits = await asyncio.gather(
        *(throttle.reserve(k, now, 5, CAP) for k in keys for _ in range(5))
    )
    assert waits == [None] * 50
    assert [await throttle.failures(k) for k in keys] == [5] * 10
    assert await throttle.reserve(keys[0], now, 5, CAP) is None  # the sixth opens a back-off
    assert await throttle.reserve(keys[0], now, 5, CAP) is not None  # the seventh waits
