"""Relationships between a coach and a client; each one is a conversation.

At most one relationship per (coach, client) pair has not ended: its `live_pair` field is
unique (sparse) and removed when it ends, so an ended relationship never blocks a new one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from services.gateway.model.records import (
    Contact,
    ParticipantSettings,
    Relationship,
    RelationshipStatus,
)
from shared.mongo import Document

# The unique (coach, client) index of earlier versions: it made ending permanent.
RETIRED_PAIR_INDEX = "coach_account_id_1_client_account_id_1"


class RelationshipExistsError(Exception):
    """This coach and client are already connected (a relationship that has not ended)."""


class RelationshipRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["relationships"]

    async def insert(self, relationship: Relationship) -> None:
        try:
            await self._c.insert_one(relationship.to_doc())
        except DuplicateKeyError as error:
            raise RelationshipExistsError from error

    async def by_id(self, conversation_id: str) -> Relationship | None:
        doc = await self._c.find_one({"_id": conversation_id})
        return Relationship.from_doc(doc) if doc else None

    async def of_account(self, account_id: str) -> list[Relationship]:
        """Every relationship of the account, ended ones included (for export and listing)."""
        query = {"$or": [{"coach_account_id": account_id}, {"client_account_id": account_id}]}
        return [
            Relationship.from_doc(doc) async for doc in self._c.find(query).sort("created_at", 1)
        ]

    async def contact(self, a: str, b: str) -> Contact | None:
        """A live contact if any relationship of a and b has not ended; else one that stops at
        their last end; None if they never had one."""
        query = {
            "$or": [
                {"coach_account_id": a, "client_account_id": b},
                {"coach_account_id": b, "client_account_id": a},
            ]
        }
        ends = []
        async for doc in self._c.find(query, projection={"status": 1, "ended_at": 1}):
            if doc.get("status") != "ended" or doc.get("ended_at") is None:
                return Contact()
            ends.append(doc["ended_at"])
        return Contact(until=max(ends)) if ends else None

    async def live_between(self, coach_id: str, client_id: str) -> bool:
        """True while this pair has a relationship that has not ended (active or paused)."""
        query = {"live_pair": f"{coach_id}:{client_id}"}
        return await self._c.find_one(query, projection={"_id": 1}) is not None

    async def end(self, conversation_id: str, by: str, at: datetime) -> bool:
        """True if this call ended it; False if it was already ended."""
        doc = await self._c.find_one_and_update(
            {"_id": conversation_id, "status": {"$ne": "ended"}},
            {
                "$set": {"status": "ended", "ended_at": at, "ended_by": by},
                "$unset": {"live_pair": "", "pause": ""},
            },
            return_document=ReturnDocument.AFTER,
        )
        return doc is not None

    async def transition(
        self,
        conversation_id: str,
        from_status: RelationshipStatus,
        to_status: RelationshipStatus,
        pause: dict[str, Any] | None,
    ) -> Relationship | None:
        """Move between active and paused; None when it was not in `from_status`."""
        update: Document = {"$set": {"status": to_status}}
        if pause is None:
            update["$unset"] = {"pause": ""}
        else:
            update["$set"]["pause"] = pause
        doc = await self._c.find_one_and_update(
            {"_id": conversation_id, "status": from_status},
            update,
            return_document=ReturnDocument.AFTER,
        )
        return Relationship.from_doc(doc) if doc else None

    async def repause(self, conversation_id: str, pause: dict[str, Any]) -> Relationship | None:
        """A paused relationship's reason or date changes (pausing again while paused)."""
        doc = await self._c.find_one_and_update(
            {"_id": conversation_id, "status": "paused"},
            {"$set": {"pause": pause}},
            return_document=ReturnDocument.AFTER,
        )
        return Relationship.from_doc(doc) if doc else None

    async def put_settings(
        self,
        conversation_id: str,
        account_id: str,
        values: dict[str, Any],
        *,
        live_only: bool = False,
    ) -> Relationship | None:
        """Set one participant's own choices (only the fields given); `live_only`: not once
        the relationship ended (None then)."""
        query: Document = {"_id": conversation_id}
        if live_only:
            query["status"] = {"$ne": "ended"}
        doc = await self._c.find_one_and_update(
            query,
            {"$set": {f"settings.{account_id}.{name}": v for name, v in values.items()}},
            return_document=ReturnDocument.AFTER,
        )
        return Relationship.from_doc(doc) if doc else None

    async def set_retention(self, conversation_id: str, days: int | None) -> bool:
        """Record the effective retention; True if it changed."""
        result = await self._c.update_one(
            {"_id": conversation_id, "retention_days": {"$ne": days}},
            {"$set": {"retention_days": days}},
        )
        return result.modified_count == 1

    async def retention_of(self, conversation_ids: list[str]) -> dict[str, int | None]:
        """Each listed conversation's effective retention in days (None: kept); conversations
        not found are left out."""
        cursor = self._c.find({"_id": {"$in": conversation_ids}}, {"retention_days": 1})
        return {doc["_id"]: doc.get("retention_days") async for doc in cursor}

    async def settings_of_account(self, account_id: str) -> list[tuple[str, ParticipantSettings]]:
        """(conversation_id, the account's own choices) for every relationship it is or was
        in: what the export and account deletion need."""
        return [
            (relationship.conversation_id, relationship.settings_of(account_id))
            for relationship in await self.of_account(account_id)
        ]

    async def migrate(self) -> None:
        """From the unique pair index to `live_pair`: mark live relationships, then drop the
        old index (idempotent; every replica may run it at start)."""
        query = {"status": {"$ne": "ended"}, "live_pair": {"$exists": False}}
        async for doc in self._c.find(query):
            live = Relationship.from_doc(doc).live_pair
            await self._c.update_one({"_id": doc["_id"]}, {"$set": {"live_pair": live}})
        try:
            await self._c.drop_index(RETIRED_PAIR_INDEX)
        except OperationFailure as error:
            if error.code != 27:  # IndexNotFound: already migrated
                raise
