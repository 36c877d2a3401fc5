"""Per-account attachment quota: one counter document per account, reserved atomically.

Summing the stored blobs and then writing lets two parallel uploads both pass the check and
together overshoot the quota. Instead an upload reserves its announced length before a byte of
the body is read, with one conditional ``$inc`` (``bytes <= quota - length``): MongoDB applies
it atomically, so parallel reservations can never add up past the quota. A removed blob (or an
upload that failed) gives its bytes back.

The counter is a cache of the stored blobs, not a record of its own. A missing one is rebuilt
from the files documents (an upload still arriving counts with its reserved length), and one
left untouched for an hour is dropped by the sweep, so a crash between reserving and storing
(bytes reserved, never given back) heals without ever letting an account past its quota.
Every change touches ``touched_at``, so the sweep never drops a counter in use, and a release
only applies to a counter built before the bytes went (one built after never counted them).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from bson import Int64
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.mongo import Document

USAGE = "attachment_usage"
FILES = "attachments.files"
# A counter untouched this long is rebuilt from the stored blobs on its next use.
IDLE = timedelta(hours=1)


def counted(doc: Document) -> int:
    """The bytes a files document holds against its uploader's quota."""
    meta = doc.get("metadata") or {}
    if meta.get("state") == "uploading":
        return int(meta.get("reserved", 0))
    return int(doc.get("length", 0))


class AttachmentUsage:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._usage = db[USAGE]
        self._files = db[FILES]

    async def stored_bytes(self, account_id: str) -> int:
        """What the account's files documents hold (the authority the counter is built from)."""
        projection = {"length": 1, "metadata.state": 1, "metadata.reserved": 1}
        cursor = self._files.find({"metadata.uploader": account_id}, projection)
        return sum([counted(doc) async for doc in cursor])

    async def reserve(self, account_id: str, length: int, quota: int, now: datetime) -> bool:
        """Hold ``length`` bytes of the account's quota; False if that would pass ``quota``."""
        if length > quota:
            return False
        for _ in range(3):  # the sweep may drop an idle counter between the two steps
            if await self._usage.find_one({"_id": account_id}, {"_id": 1}) is None:
                await self._rebuild(account_id, now)
            result = await self._usage.update_one(
                {"_id": account_id, "bytes": {"$lte": quota - length}},
                {"$inc": {"bytes": Int64(length)}, "$set": {"touched_at": now}},
            )
            if result.matched_count:
                return True
            if await self._usage.find_one({"_id": account_id}, {"_id": 1}) is not None:
                return False  # the counter is there and has no room
        return False

    async def _rebuild(self, account_id: str, now: datetime) -> None:
        built_at = datetime.now(UTC)  # before the sum: a blob removed later was counted
        total = await self.stored_bytes(account_id)
        # A parallel upload may build it first: the same sum.
        with contextlib.suppress(DuplicateKeyError):
            await self._usage.insert_one(
                {"_id": account_id, "bytes": Int64(total), "touched_at": now, "built_at": built_at}
            )

    async def release(self, account_id: str, length: int, counted_since: datetime) -> None:
        """Give bytes back (a blob removed, an upload that failed or came out shorter), to a
        counter built before ``counted_since`` (when the bytes were still stored)."""
        if length:
            await self._usage.update_one(
                {"_id": account_id, "built_at": {"$lte": counted_since}},
                {"$inc": {"bytes": Int64(-length)}, "$set": {"touched_at": datetime.now(UTC)}},
            )

    async def forget(self, account_id: str) -> None:
        """Account deletion: nothing of it is kept."""
        await self._usage.delete_one({"_id": account_id})

    async def drop_idle(self, now: datetime) -> int:
        """Counters nobody used for a while: rebuilt from the blobs when next needed."""
        result = await self._usage.delete_many({"touched_at": {"$lt": now - IDLE}})
        return result.deleted_count
