"""Coach availability and the `coach_away` notices sent: the only queries of their collections."""

from __future__ import annotations

import time
from datetime import timedelta

from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.availability_contracts import Availability
from shared.events import utcnow
from shared.mongo import Document, IndexSpec

AVAILABILITY = "availability"
AWAY_NOTICES = "away_notices"
# A notice is kept as long as an unavailable stretch plausibly lasts; one that lasts longer
# tells the client again afterwards (bounded retention rather than a row per stretch forever).
NOTICE_RETENTION = timedelta(days=35)

INDEXES: IndexSpec = {
    AWAY_NOTICES: [
        IndexModel("created_at", expireAfterSeconds=int(NOTICE_RETENTION.total_seconds()))
    ],
}


# Every client message asks for its coach's availability: kept in memory (also "none set").
# This replica's own writes drop the entry at once; another replica's reach it within this.
AVAILABILITY_TTL_SECONDS = 5.0


class AvailabilityRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._known: dict[str, tuple[float, Availability | None]] = {}

    async def put(self, account_id: str, availability: Availability) -> None:
        """Replaces what the coach had set (the whole of it, as `PUT` does)."""
        self._known.pop(account_id, None)
        await self._db[AVAILABILITY].replace_one(
            {"_id": account_id},
            {"availability": availability.model_dump(), "updated_at": utcnow()},
            upsert=True,
        )
        self._known.pop(account_id, None)  # a read that raced with the write kept the old one

    async def get(self, account_id: str) -> Availability | None:
        now = time.monotonic()
        known = self._known.get(account_id)
        if known is not None and now - known[0] < AVAILABILITY_TTL_SECONDS:
            return known[1]
        doc = await self._db[AVAILABILITY].find_one({"_id": account_id})
        found = None if doc is None else Availability.model_validate(doc["availability"])
        if len(self._known) > 100_000:
            self._known.clear()
        self._known[account_id] = (now, found)
        return found

    async def forget(self, account_id: str) -> None:
        """The account is deleted: its availability goes."""
        self._known.pop(account_id, None)
        await self._db[AVAILABILITY].delete_one({"_id": account_id})
        self._known.pop(account_id, None)

    async def claim_notice(self, conversation_id: str, stretch: str, event_id: str) -> bool:
        """True if the message event `event_id` is to tell this conversation's client about
        this unavailable stretch: the first to claim it on any replica, or that same event
        redelivered before the notice was marked sent (it crashed in between)."""
        key = {"_id": f"{conversation_id}:{stretch}"}
        try:
            await self._db[AWAY_NOTICES].insert_one(
                key | {"event_id": event_id, "sent": False, "created_at": utcnow()}
            )
        except DuplicateKeyError:
            claimed = await self._db[AWAY_NOTICES].find_one(key, {"event_id": 1, "sent": 1})
            return claimed is not None and claimed["event_id"] == event_id and not claimed["sent"]
        return True

    async def notice_sent(self, conversation_id: str, stretch: str) -> None:
        await self._db[AWAY_NOTICES].update_one(
            {"_id": f"{conversation_id}:{stretch}"}, {"$set": {"sent": True}}
        )
