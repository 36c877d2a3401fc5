"""Security audit log and login throttling state (both metadata only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from shared.mongo import Document


class AuditLog:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["audit"]

    async def insert(self, document: Document) -> None:
        await self._c.insert_one(document)

    async def page(self, before: tuple[datetime, str] | None, limit: int) -> list[Document]:
        query: dict[str, Any] = {}
        if before is not None:
            at, event_id = before
            query = {"$or": [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": event_id}}]}
        cursor = self._c.find(query).sort([("at", -1), ("_id", -1)]).limit(limit)
        return [d async for d in cursor]


class Throttle:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["login_throttle"]

    async def blocked_until(self, keys: list[str]) -> datetime | None:
        latest = None
        async for doc in self._c.find({"_id": {"$in": keys}}):
            at = doc.get("next_allowed_at")
            if at is not None and (latest is None or at > latest):
                latest = at
        return latest

    async def fail(self, key: str, now: datetime, free: int, cap: timedelta) -> Document | None:
        doc = await self._c.find_one_and_update(
            {"_id": key},
            {"$inc": {"failures": 1}, "$set": {"expires_at": now + cap * 4}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        excess = int(doc["failures"]) - free
        if excess > 0:
            delay = min(timedelta(seconds=2 ** (excess - 1)), cap)
            await self._c.update_one({"_id": key}, {"$set": {"next_allowed_at": now + delay}})
        return doc

    async def clear(self, key: str) -> None:
        await self._c.delete_one({"_id": key})
