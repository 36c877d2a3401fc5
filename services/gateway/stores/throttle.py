"""Login and password-check throttling state (metadata only)."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.mongo import Document


def backoff(failures: int, free: int, cap: timedelta, base: float = 1.0) -> timedelta:
    """base * 2 ** (failures - free) seconds, within [base, cap]. The exponent is bounded
    first: a long attack would otherwise overflow timedelta and turn every 429 into a 500."""
    enough = int(cap.total_seconds() / base).bit_length()  # base * 2 ** enough >= cap
    return min(timedelta(seconds=base * 2 ** min(max(failures - free, 0), enough)), cap)


class Throttle:
    """Login attempts per key, reserved *before* the password is checked.

    Up to `free` attempts run concurrently; past that, each attempt must win a compare-and-set
    on the counter and sets a growing back-off, so a burst of parallel guesses gets one try per
    back-off window, never one per worker. The back-off is capped: never a hard lock.
    """

    def __init__(self, db: AsyncDatabase[Document], backoff_base: float = 1.0) -> None:
        self._backoff_base = backoff_base
        self._c = db["login_throttle"]

    async def reserve(self, key: str, now: datetime, free: int, cap: timedelta) -> datetime | None:
        """None if this attempt may proceed; otherwise when the next one may."""
        expires = {"expires_at": now + cap * 4}
        for _ in range(5):  # only lost races loop; each round is a few single-document ops
            within = await self._c.find_one_and_update(
                {"_id": key, "failures": {"$lt": free}},
                {"$inc": {"failures": 1}, "$set": expires},
                return_document=ReturnDocument.AFTER,
            )
            if within is not None:
                return None
            current = await self._c.find_one({"_id": key})
            if current is None:
                # Created apart from the reservation, never by an upsert: parallel upserts of
                # one new key were seen to miscount (tests/integration/test_rate_buckets.py).
                with contextlib.suppress(DuplicateKeyError):
                    await self._c.insert_one({"_id": key, "failures": 0, **expires})
                continue
            if int(current["failures"]) < free:
                continue
            waiting_until = current.get("next_allowed_at")
            if waiting_until is not None and waiting_until > now:
                return waiting_until  # type: ignore[no-any-return]
            failures = int(current["failures"])
            delay = backoff(failures, free, cap, self._backoff_base)
            won = await self._c.update_one(
                {"_id": key, "failures": failures, "next_allowed_at": waiting_until},
                {"$set": {"failures": failures + 1, "next_allowed_at": now + delay, **expires}},
            )
            if won.modified_count == 1:
                return None
        return now + timedelta(seconds=1)

    async def failures(self, key: str) -> int:
        """Attempts reserved since the key was last cleared (a success clears it)."""
        current = await self._c.find_one({"_id": key})
        return int(current["failures"]) if current else 0

    async def clear(self, key: str) -> None:
        await self._c.delete_one({"_id": key})

    async def release(self, key: str) -> None:
        """A successful attempt gives its reserved slot back (shared addresses, NAT)."""
        await self._c.update_one({"_id": key, "failures": {"$gt": 0}}, {"$inc": {"failures": -1}})
