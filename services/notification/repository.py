"""The notification database: the only module that speaks to its collections.

Projections of other services' events (`relationships`, `devices`) are keyed by their
natural ids and written with upserts that converge whatever order, and however often,
RabbitMQ delivers the events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.events import utcnow
from shared.mongo import Document, IndexSpec
from shared.probes import PROBES

RELATIONSHIPS = "relationships"
DEVICES = "devices"
PENDING = "pending"
ANNOUNCEMENTS = "device_announcements"

INDEXES: IndexSpec = {
    PROBES: [IndexModel("received_at", expireAfterSeconds=7 * 24 * 3600)],
    RELATIONSHIPS: [IndexModel("coach_account_id"), IndexModel("client_account_id")],
    DEVICES: [IndexModel([("account_id", ASCENDING), ("active", ASCENDING)])],
    # `created_at` expires rows: a TTL index from `pending_retention_days` (app.py).
    PENDING: [IndexModel([("device_id", ASCENDING), ("message_id", ASCENDING)], unique=True)],
    ANNOUNCEMENTS: [
        IndexModel("dirty"),
        IndexModel("announced_at", expireAfterSeconds=24 * 3600),
    ],
}

OfflineReason = Literal["unroutable", "ack_timeout"]


@dataclass(frozen=True)
class Relationship:
    conversation_id: str
    coach_account_id: str
    client_account_id: str
    status: Literal["active", "ended"]

    @property
    def participants(self) -> tuple[str, str]:
        return (self.coach_account_id, self.client_account_id)

    def counterpart(self, account_id: str) -> str | None:
        if account_id == self.coach_account_id:
            return self.client_account_id
        if account_id == self.client_account_id:
            return self.coach_account_id
        return None


class NotificationRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def relationship_created(
        self, conversation_id: str, coach_account_id: str, client_account_id: str
    ) -> None:
        """`status` only on insert: a `relationship.ended` seen first must stay ended."""
        await self._db[RELATIONSHIPS].update_one(
            {"_id": conversation_id},
            {
                "$set": {
                    "coach_account_id": coach_account_id,
                    "client_account_id": client_account_id,
                },
                "$setOnInsert": {"status": "active", "created_at": utcnow()},
            },
            upsert=True,
        )

    async def relationship_ended(self, conversation_id: str) -> None:
        await self._db[RELATIONSHIPS].update_one(
            {"_id": conversation_id},
            {"$set": {"status": "ended"}, "$setOnInsert": {"created_at": utcnow()}},
            upsert=True,
        )

    async def relationship_status(self, conversation_id: str, status: str) -> None:
        """Paused or active again; an ended relationship stays ended whatever arrives later."""
        await self._db[RELATIONSHIPS].update_one(
            {"_id": conversation_id, "status": {"$ne": "ended"}}, {"$set": {"status": status}}
        )

    async def relationship(self, conversation_id: str) -> Relationship | None:
        """None until `relationship.created` arrived (an `ended` alone names no participants)."""
        doc = await self._db[RELATIONSHIPS].find_one({"_id": conversation_id})
        if doc is None or "coach_account_id" not in doc:
            return None
        return Relationship(
            conversation_id=conversation_id,
            coach_account_id=doc["coach_account_id"],
            client_account_id=doc["client_account_id"],
            status="ended" if doc.get("status") == "ended" else "active",
        )

    async def counterparts(self, account_id: str) -> set[str]:
        """Accounts in a relationship with this one that has not ended (active or paused):
        an ended relationship must not go on telling either side about the other's devices."""
        cursor = self._db[RELATIONSHIPS].find(
            {
                "$or": [{"coach_account_id": account_id}, {"client_account_id": account_id}],
                "status": {"$ne": "ended"},
            }
        )
        found: set[str] = set()
        async for doc in cursor:
            found.update((doc["coach_account_id"], doc["client_account_id"]))
        found.discard(account_id)
        return found

    async def device_active(self, account_id: str, device_id: str) -> None:
        """Added or updated. Device ids are never reused, so a removal seen first wins."""
        await self._db[DEVICES].update_one(
            {"_id": device_id},
            {
                "$set": {"account_id": account_id, "updated_at": utcnow()},
                "$setOnInsert": {"active": True},
            },
            upsert=True,
        )

    async def device_removed(self, account_id: str, device_id: str) -> None:
        await self._db[DEVICES].update_one(
            {"_id": device_id},
            {"$set": {"account_id": account_id, "active": False, "updated_at": utcnow()}},
            upsert=True,
        )

    async def claim_announcement(self, account_id: str, now: datetime, window: timedelta) -> bool:
        """True if a device change of this account is announced now (nothing was announced
        within `window`, on any replica); otherwise it is left for the trailing announcement."""
        try:
            await self._db[ANNOUNCEMENTS].update_one(
                {"_id": account_id, "announced_at": {"$lte": now - window}},
                {"$set": {"announced_at": now, "dirty": False}},
                upsert=True,
            )
        except DuplicateKeyError:  # announced recently: one more change for the trailing one
            await self._db[ANNOUNCEMENTS].update_one({"_id": account_id}, {"$set": {"dirty": True}})
            return False
        return True

    async def due_announcements(self, now: datetime, window: timedelta) -> list[str]:
        """Accounts with changes held back by the window, claimed for announcing now."""
        due: list[str] = []
        query = {"dirty": True, "announced_at": {"$lte": now - window}}
        async for doc in self._db[ANNOUNCEMENTS].find(query, {"_id": 1}).limit(500):
            claimed = await self._db[ANNOUNCEMENTS].update_one(
                {"_id": doc["_id"], **query}, {"$set": {"announced_at": now, "dirty": False}}
            )
            if claimed.modified_count == 1:  # another replica may have claimed it first
                due.append(str(doc["_id"]))
        return due

    async def active_devices(self, account_ids: Iterable[str]) -> list[str]:
        """The active device ids of these accounts, sorted."""
        cursor = self._db[DEVICES].find(
            {"account_id": {"$in": sorted(set(account_ids))}, "active": True}, {"_id": 1}
        )
        return sorted([str(doc["_id"]) async for doc in cursor])

    async def record_pending(
        self, device_id: str, conversation_id: str, message_id: str, reason: OfflineReason
    ) -> bool:
        """A notification owed to an offline device; True only the first time it is recorded."""
        try:
            result = await self._db[PENDING].update_one(
                {"device_id": device_id, "message_id": message_id},
                {
                    "$setOnInsert": {
                        "conversation_id": conversation_id,
                        "reason": reason,
                        "created_at": utcnow(),
                    }
                },
                upsert=True,
            )
        except DuplicateKeyError:  # a competing replica recorded it at the same moment
            return False
        return result.upserted_id is not None
