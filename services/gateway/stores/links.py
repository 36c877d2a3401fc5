"""Pending device links: one device's boxed secret for another device of the same account."""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase

from services.gateway.model.records import Link
from shared.mongo import Document


class LinkRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["links"]

    async def insert(self, link: Link) -> None:
        await self._c.insert_one(link.to_doc())

    async def pending_for(self, device_id: str, now: datetime) -> list[Link]:
        """What the device has not acknowledged yet and has not expired, oldest first (the TTL
        index removes expired ones only about once a minute: the query decides)."""
        cursor = self._c.find({"device_id": device_id, "expires_at": {"$gt": now}})
        return [Link.from_doc(doc) async for doc in cursor.sort("created_at", 1)]

    async def acknowledge(self, device_id: str, link_id: str) -> bool:
        """Delivered once: the target's acknowledgement deletes it; True if it was there."""
        result = await self._c.delete_one({"_id": link_id, "device_id": device_id})
        return result.deleted_count == 1

    async def forget_device(self, device_id: str) -> None:
        """A revoked device can fetch nothing: what waited for it goes."""
        await self._c.delete_many({"device_id": device_id})
