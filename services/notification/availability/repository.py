"""Coach availability and the `coach_away` notices sent: the only queries of their collections."""

from __future__ import annotations

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


class AvailabilityRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def put(self, account_id: str, availability: Availability) -> None:
        """Replaces what the coach had set (the whole of it, as `PUT` does)."""
        await self._db[AVAILABILITY].replace_one(
            {"_id": account_id},
            {"availability": availability.model_dump(), "updated_at": utcnow()},
            upsert=True,
        )

    async def get(self, account_id: str) -> Availability | None:
        doc = await self._db[AVAILABILITY].find_one({"_id": account_id})
        return None if doc is None else Availability.model_validate(doc["availability"])

    async def forget(self, account_id: str) -> None:
        """The account is deleted: its availability goes."""
        await self._db[AVAILABILITY].delete_one({"_id": account_id})

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
