"""Encrypted attachment blobs in GridFS: streamed in and out, tied to messages, swept.

The blobs are opaque (docs/attachments.md). The GridFS file name is the constant ``"blob"``;
the metadata holds only the conversation, the uploading account, the state (``uploading`` with
the bytes reserved of its quota, ``pending`` until a message references it, then ``sent`` with
its message id and when it was sent) and dates. Chunks are one ciphertext chunk long, so stored
chunks are even. Every removal here is idempotent and gives the bytes back to the quota
(stores/attachment_usage.py).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import Int64
from gridfs.errors import NoFile
from pymongo.asynchronous.database import AsyncDatabase

from services.gateway.stores.attachment_usage import AttachmentUsage, counted
from shared.errors import ConflictError
from shared.mongo import Document

BUCKET = "attachments"
CHUNK_BYTES = 64 * 1024 + 17  # one secretstream ciphertext chunk (docs/attachments.md)
READ_BYTES = CHUNK_BYTES
# An upload still arriving after this long is abandoned (a crash, a stalled client).
STALLED = timedelta(hours=1)
SENT_BATCH = 1000  # conversation ids per cursor batch of the retention sweep


@dataclass(frozen=True)
class Blob:
    """What the gateway knows about one upload (never anything about its content)."""

    attachment_id: str
    conversation_id: str
    uploader: str
    state: str
    size: int
    message_id: str | None


def new_attachment_id() -> str:
    """128 random bits: unguessable, so a wrong id is as good as a missing one."""
    return "att_" + secrets.token_urlsafe(16)


class AttachmentStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._files = db[f"{BUCKET}.files"]
        self._chunks = db[f"{BUCKET}.chunks"]
        self.usage = AttachmentUsage(db)

    async def reserve(self, account_id: str, length: int, quota: int) -> bool:
        """Hold ``length`` bytes of the account's quota for an upload about to start."""
        return await self.usage.reserve(account_id, length, quota, datetime.now(UTC))

    async def unreserve(self, account_id: str, length: int, since: datetime) -> None:
        """An upload reserved at ``since`` that never stored anything gives its bytes back."""
        await self.usage.release(account_id, length, since)

    async def upload(
        self,
        attachment_id: str,
        conversation_id: str,
        uploader: str,
        source: AsyncIterator[bytes],
        now: datetime,
        reserved: int,
    ) -> int:
        """Write the stream as it arrives, one GridFS chunk document at a time; the size.

        ``reserved`` bytes of the uploader's quota were reserved for it (``reserve``): the
        files document carries them while bytes arrive, and a failed upload gives them back.
        PyMongo's GridIn batches up to 32 MiB of chunks per insert, which would hold most of a
        file in memory, so the upload writes the GridFS spec's documents itself (the files
        document first, ``uploading`` until complete, so a crash leaves something the sweep
        finds). The documents are the GridFS spec's, so any GridFS tool reads them.
        """
        metadata = {
            "conversation_id": conversation_id,
            "uploader": uploader,
            "state": "uploading",
            "uploaded_at": now,
            "reserved": Int64(reserved),
        }
        try:
            await self._files.insert_one(
                {
                    "_id": attachment_id,
                    "length": Int64(0),
                    "chunkSize": CHUNK_BYTES,
                    "uploadDate": now,
                    "filename": "blob",
                    "metadata": metadata,
                }
            )
        except BaseException:
            # Inserted or not: remove it if it is there, else give the reservation back.
            if not await self.remove_where({"_id": attachment_id}):
                await self.unreserve(uploader, reserved, now)
            raise
        buffer, size, number = bytearray(), 0, 0
        try:
            async for piece in source:
                buffer += piece
                size += len(piece)
                while len(buffer) >= CHUNK_BYTES:
                    await self._chunk(attachment_id, number, bytes(buffer[:CHUNK_BYTES]))
                    del buffer[:CHUNK_BYTES]
                    number += 1
            if buffer:
                await self._chunk(attachment_id, number, bytes(buffer))
        except BaseException:
            if not await self.remove_where({"_id": attachment_id}):
                # Swept as stalled meanwhile: what arrived since belongs to nothing.
                await self._chunks.delete_many({"files_id": attachment_id})
            raise
        done = await self._files.update_one(
            {"_id": attachment_id, "metadata.state": "uploading"},
            {
                "$set": {
                    "length": Int64(size),
                    "metadata.state": "pending",
                    "metadata.uploaded_at": datetime.now(UTC),
                },
                "$unset": {"metadata.reserved": ""},
            },
        )
        if not done.matched_count:
            # The sweep removed it as stalled while bytes still arrived (and gave its bytes
            # back): the chunks written since belong to nothing, and there is no attachment.
            await self._chunks.delete_many({"files_id": attachment_id})
            raise ConflictError("the upload took too long and was dropped; upload it again")
        if size < reserved:  # the edge refuses a short body; other callers may differ
            await self.usage.release(uploader, reserved - size, now)
        return size

    async def _chunk(self, attachment_id: str, number: int, data: bytes) -> None:
        await self._chunks.insert_one({"files_id": attachment_id, "n": number, "data": data})

    async def find(self, attachment_id: str) -> Blob | None:
        doc = await self._files.find_one({"_id": attachment_id})
        if doc is None:
            return None
        meta: dict[str, Any] = doc.get("metadata") or {}
        return Blob(
            attachment_id=attachment_id,
            conversation_id=meta.get("conversation_id", ""),
            uploader=meta.get("uploader", ""),
            state=meta.get("state", ""),
            size=int(doc.get("length", 0)),
            message_id=meta.get("message_id"),
        )

    async def read(self, attachment_id: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start..end`` (inclusive), a few chunk documents at a time: PyMongo's GridOut
        reads through a cursor with default batches (up to 16 MiB), too much to stay flat."""
        first, last = start // CHUNK_BYTES, end // CHUNK_BYTES
        cursor = self._chunks.find(
            {"files_id": attachment_id, "n": {"$gte": first, "$lte": last}},
            sort=[("n", 1)],
            batch_size=2,
        )
        expected = first
        async for doc in cursor:
            if doc["n"] != expected:
                raise NoFile(f"chunk {expected} of {attachment_id} is missing")
            data = bytes(doc["data"])
            offset = doc["n"] * CHUNK_BYTES
            yield data[max(0, start - offset) : end - offset + 1]
            expected += 1
        if expected != last + 1:
            raise NoFile(f"chunk {expected} of {attachment_id} is missing")

    async def claim(
        self,
        ids: list[str],
        conversation_id: str,
        uploader: str,
        message_id: str,
        sent_at: datetime,
    ) -> bool:
        """Tie pending uploads to a message, all or none (a failed claim is rolled back). A
        retried send of the same message finds them already tied to it, which is fine."""
        query = {
            "_id": {"$in": ids},
            "metadata.conversation_id": conversation_id,
            "metadata.uploader": uploader,
            "$or": [
                {"metadata.state": "pending"},
                {"metadata.state": "sent", "metadata.message_id": message_id},
            ],
        }
        update = {
            "$set": {
                "metadata.state": "sent",
                "metadata.message_id": message_id,
                "metadata.sent_at": sent_at,
            }
        }
        result = await self._files.update_many(query, update)
        if result.matched_count == len(ids):
            return True
        await self.release(ids, message_id)
        return False

    async def release(self, ids: list[str], message_id: str) -> None:
        """Undo a claim whose message was not queued: the uploads wait for another send."""
        await self._files.update_many(
            {"_id": {"$in": ids}, "metadata.message_id": message_id},
            {
                "$set": {"metadata.state": "pending"},
                "$unset": {"metadata.message_id": "", "metadata.sent_at": ""},
            },
        )

    async def remove_where(self, query: Document) -> int:
        """Delete every blob whose files document matches; the number removed. Only the
        remover that deleted a files document gives its bytes back to the quota."""
        projection = {"length": 1, "metadata.state": 1, "metadata.reserved": 1}
        projection["metadata.uploader"] = 1
        found = [doc async for doc in self._files.find(query, projection)]
        removed = 0
        for doc in found:
            attachment_id, moment = doc["_id"], datetime.now(UTC)
            # Chunks first: a crash in between leaves a files document the next pass finds.
            await self._chunks.delete_many({"files_id": attachment_id})
            result = await self._files.delete_one({"_id": attachment_id})
            if result.deleted_count:
                removed += 1
                uploader = (doc.get("metadata") or {}).get("uploader", "")
                await self.usage.release(uploader, counted(doc), moment)
        return removed

    async def remove_message(self, conversation_id: str, message_id: str) -> int:
        return await self.remove_where(
            {"metadata.conversation_id": conversation_id, "metadata.message_id": message_id}
        )

    async def remove_account(self, account_id: str) -> int:
        removed = await self.remove_where({"metadata.uploader": account_id})
        await self.usage.forget(account_id)
        return removed

    async def remove_stale(self, pending_before: datetime, now: datetime) -> int:
        """Uploads never referenced within the grace period, or stalled while arriving."""
        removed = await self.remove_where(
            {
                "$or": [
                    {"metadata.state": "pending", "metadata.uploaded_at": {"$lt": pending_before}},
                    {"metadata.state": "uploading", "metadata.uploaded_at": {"$lt": now - STALLED}},
                ]
            }
        )
        await self.usage.drop_idle(now)
        return removed

    async def sent_conversations(self, batch_size: int = SENT_BATCH) -> AsyncIterator[str]:
        """The conversations that have sent blobs (whose retention the sweep applies), in
        order, one cursor batch at a time: `distinct` answers in one document, which fails
        once the ids pass 16 MB."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"metadata.state": "sent"}},
            {"$group": {"_id": "$metadata.conversation_id"}},
            {"$sort": {"_id": 1}},
        ]
        cursor = await self._files.aggregate(pipeline, allowDiskUse=True, batchSize=batch_size)
        async with cursor:
            async for doc in cursor:
                yield str(doc["_id"])

    async def remove_sent_before(self, conversation_ids: list[str], cutoff: datetime) -> int:
        """Sent blobs of these conversations sent before ``cutoff`` (their retention passed).
        A blob sent before sending times were kept goes by its upload time (a little earlier)."""
        return await self.remove_where(
            {
                "metadata.conversation_id": {"$in": conversation_ids},
                "metadata.state": "sent",
                "$or": [
                    {"metadata.sent_at": {"$lt": cutoff}},
                    {
                        "metadata.sent_at": {"$exists": False},
                        "metadata.uploaded_at": {"$lt": cutoff},
                    },
                ],
            }
        )

    async def of_conversations(self, conversation_ids: list[str], account_id: str) -> list[Blob]:
        """Sent blobs of these conversations and the account's own pending ones (the export)."""
        query = {
            "metadata.conversation_id": {"$in": conversation_ids},
            "$or": [{"metadata.state": "sent"}, {"metadata.uploader": account_id}],
        }
        found = []
        async for doc in self._files.find(query, {"_id": 1}, sort=[("_id", 1)]):
            blob = await self.find(doc["_id"])
            if blob is not None and blob.state != "uploading":
                found.append(blob)
        return found

    async def for_account(self, account_id: str) -> list[Blob]:
        """The account's own uploads, for the export."""
        found = []
        async for doc in self._files.find({"metadata.uploader": account_id}, {"_id": 1}):
            blob = await self.find(doc["_id"])
            if blob is not None:
                found.append(blob)
        return found
