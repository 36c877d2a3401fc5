"""The login throttle against the real store: a counter far past the quota still answers."""

from __future__ import annotations

from datetime import timedelta

from pymongo import AsyncMongoClient

from services.gateway.repository.throttle import Throttle
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
