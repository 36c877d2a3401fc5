"""The messaging database: the only module that speaks to its collections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.messaging.documents import message_key
from services.messaging.retention import expired
from shared.errors import HavenError, TransientError
from shared.events import utcnow
from shared.mongo import Document, IndexSpec
from shared.probes import PROBES

MESSAGES, COUNTERS, READ_MARKERS = "messages", "counters", "read_markers"
DUPLICATE_KEY = 11000
LOOKBACK = 20  # messages read at a time when looking for the last unexpired one

INDEXES: IndexSpec = {
    PROBES: [IndexModel("received_at", expireAfterSeconds=7 * 24 * 3600)],
    # Starts with conversation_id, so `messages` can be sharded by it. A (conversation_id,
    # message_id) pair is unique by the `_id` (`documents.message_key`, derived from both, so
    # each `_id` lives in one conversation's chunk, hence on one shard): a unique index of
    # its own would cost every insert about 30 % of its store time. (A store that
    # still has one, `conversation_id_1_message_id_1`, may drop it.)
    MESSAGES: [
        IndexModel([("conversation_id", ASCENDING), ("seq", ASCENDING)], unique=True),
    ],
}

# History items carry neither the duplicate-detection signature nor the recipient list.
ITEM_FIELDS = {"_id": 0, "signature": 0, "recipient_device_ids": 0, "deleted_at": 0}


class StoreFailedError(HavenError):
    """An insert failed for a reason other than a duplicate key; carries codes, never documents."""


@dataclass
class InsertResult:
    """Which documents of an insert_many collided, by position, and on which unique index."""

    duplicate_ids: list[int] = field(default_factory=list)
    duplicate_seqs: list[int] = field(default_factory=list)


Pairs = Sequence[tuple[str, str]]


class MessagingRepository:
    """One process's batches never overlap (services/messaging/pipeline.py serves every shard
    it consumes), so each batch's calls go to the store as they are: one round trip each."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._messages = db[MESSAGES]
        self._counters = db[COUNTERS]
        self._markers = db[READ_MARKERS]

    async def existing(self, pairs: Pairs) -> dict[tuple[str, str], Document]:
        """Stored messages among (conversation_id, message_id) pairs: one primary-key lookup."""
        if not pairs:
            return {}
        wanted = {message_key(c, m) for c, m in pairs}
        cursor = self._messages.find({"_id": {"$in": sorted(wanted)}})
        found = {(doc["conversation_id"], doc["message_id"]): doc async for doc in cursor}
        return {p: found[p] for p in pairs if p in found}

    async def reserve(self, counts: Mapping[str, int]) -> dict[str, int]:
        """Reserve consecutive seqs per conversation; returns each one's highest.

        One `$inc` by the count per conversation, then one read: only this shard's single
        active consumer moves these counters, and should anything else ever move one in
        between, the unique (conversation_id, seq) index refuses the overlapping inserts.
        A crash after this leaves a gap, which is allowed.
        """
        if not counts:
            return {}
        if len(counts) == 1:  # the usual batch at low load: one round trip, not two
            [(conversation_id, count)] = counts.items()
            doc = await self._counters.find_one_and_update(
                {"_id": conversation_id},
                {"$inc": {"seq": count}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:  # a store that lost an upsert race; the batch is retried
                raise TransientError("seq reservation returned no counter")
            return {conversation_id: int(doc["seq"])}
        await self._counters.bulk_write(
            [UpdateOne({"_id": c}, {"$inc": {"seq": n}}, upsert=True) for c, n in counts.items()],
            ordered=False,
        )
        cursor = self._counters.find({"_id": {"$in": list(counts)}})
        return {doc["_id"]: int(doc["seq"]) async for doc in cursor}

    async def repair_counter(self, conversation_id: str) -> None:
        """Raise a counter that fell behind the stored seqs (say, a restored backup)."""
        await self._counters.update_one(
            {"_id": conversation_id},
            {"$max": {"seq": await self.last_seq(conversation_id)}},
            upsert=True,
        )

    async def insert(self, docs: list[Document]) -> InsertResult:
        """Insert all that can be; mongod applies them in list order even when unordered."""
        result = InsertResult()
        if not docs:
            return result
        try:
            await self._messages.insert_many(docs, ordered=False)
        except BulkWriteError as error:
            errors = error.details.get("writeErrors", [])
            if error.details.get("writeConcernErrors"):
                raise TransientError("insert not acknowledged by enough members") from None
            others = sorted({e.get("code") for e in errors if e.get("code") != DUPLICATE_KEY})
            if others:
                raise StoreFailedError(f"insert failed with codes {others}") from None
            for e in errors:
                target = result.duplicate_seqs if _on_seq(e) else result.duplicate_ids
                target.append(int(e["index"]))
        return result

    async def find_message(self, conversation_id: str, message_id: str) -> Document | None:
        """The message's metadata, without its envelope."""
        return await self._messages.find_one(
            {"_id": message_key(conversation_id, message_id)}, {"envelope": 0}
        )

    async def tombstone(
        self, conversation_id: str, message_id: str, deleted_at: datetime
    ) -> Document | None:
        """Drop the envelope for good; the id, seq and sender stay so history keeps its place."""
        return await self._messages.find_one_and_update(
            {"_id": message_key(conversation_id, message_id), "deleted": False},
            {"$unset": {"envelope": ""}, "$set": {"deleted": True, "deleted_at": deleted_at}},
            return_document=ReturnDocument.AFTER,
        )

    async def last_seq(self, conversation_id: str, *, visible_at: datetime | None = None) -> int:
        """The highest stored seq (0 for none); reserved-but-unused numbers do not count.
        With `visible_at`, only messages not expired by then count."""
        before: int | None = None
        while True:
            query: dict[str, Any] = {"conversation_id": conversation_id}
            if before is not None:
                query["seq"] = {"$lt": before}
            cursor = self._messages.find(
                query, projection={"seq": 1, "expires_at": 1, "_id": 0}, sort=[("seq", DESCENDING)]
            ).limit(LOOKBACK)
            docs = [doc async for doc in cursor]
            for doc in docs:
                if visible_at is None or not expired(doc, visible_at):
                    return int(doc["seq"])
            if len(docs) < LOOKBACK:
                return 0
            before = int(docs[-1]["seq"])

    async def last_seqs(self, conversation_ids: Sequence[str]) -> dict[str, int]:
        """The last seq of each conversation that has not expired."""
        now = utcnow()
        seqs = await asyncio.gather(*(self.last_seq(c, visible_at=now) for c in conversation_ids))
        return dict(zip(conversation_ids, seqs, strict=True))

    async def raise_marker(self, conversation_id: str, account_id: str, up_to_seq: int) -> int:
        """Move the account's read marker up (never down); returns where it was before."""
        before = await self._markers.find_one_and_update(
            {"_id": f"{conversation_id}:{account_id}"},
            {
                "$max": {"up_to_seq": up_to_seq},
                "$setOnInsert": {"conversation_id": conversation_id, "account_id": account_id},
            },
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
        return int(before["up_to_seq"]) if before else 0

    async def markers(self, account_id: str, conversation_ids: Sequence[str]) -> dict[str, int]:
        ids = [f"{c}:{account_id}" for c in conversation_ids]
        cursor = self._markers.find({"_id": {"$in": ids}})
        return {doc["conversation_id"]: int(doc["up_to_seq"]) async for doc in cursor}

    async def page(
        self, conversation_id: str, *, after: int | None, before: int | None, limit: int
    ) -> list[Document]:
        """Up to `limit + 1` items: ascending after `after`, or descending below `before`;
        expired messages are left out even before the TTL sweep removed them."""
        order = DESCENDING if before is not None else ASCENDING
        now, found = utcnow(), []
        while True:
            seq: dict[str, Any] = {"$lt": before} if before is not None else {"$gt": after or 0}
            cursor = (
                self._messages.find({"conversation_id": conversation_id, "seq": seq}, ITEM_FIELDS)
                .sort("seq", order)
                .limit(limit + 1)
            )
            batch = [doc async for doc in cursor]
            found += [doc for doc in batch if not expired(doc, now)]
            if len(batch) <= limit or len(found) > limit:
                return found[: limit + 1]
            # Expired ones the sweep has not removed yet were in the way: read on past them.
            if before is not None:
                before = int(batch[-1]["seq"])
            else:
                after = int(batch[-1]["seq"])

    async def export_page(
        self, conversation_ids: Sequence[str], after: tuple[str, int] | None, limit: int
    ) -> AsyncGenerator[Document, None]:
        """Up to `limit` unexpired messages of these conversations after `after`, ordered by
        (conversation_id, seq). A generator: the caller stops reading once its page is full.

        Each query reads one window of seqs (a bounded range of the (conversation_id, seq)
        index, up to the conversation's counter), so a page costs the same at the start and
        at the end of a long history: stores that sort a whole range before limiting it
        would otherwise read the rest of the conversation for every page."""
        now = utcnow()
        ids = sorted(set(conversation_ids))
        tops = {
            doc["_id"]: int(doc["seq"]) async for doc in self._counters.find({"_id": {"$in": ids}})
        }
        for cid in ids:
            if after is not None and cid < after[0]:
                continue
            floor = after[1] if after is not None and cid == after[0] else 0
            while limit > 0 and floor < tops.get(cid, 0):
                window = {"$gt": floor, "$lte": floor + limit}
                query = {"conversation_id": cid, "seq": window}
                cursor = self._messages.find(query, ITEM_FIELDS).sort("seq", ASCENDING)
                async for doc in cursor:
                    if expired(doc, now):
                        continue
                    yield doc
                    limit -= 1
                floor = window["$lte"]
            if limit <= 0:
                return


def _on_seq(write_error: dict[str, Any]) -> bool:
    pattern = write_error.get("keyPattern")
    if isinstance(pattern, dict):
        return "seq" in pattern
    return "seq_1" in str(write_error.get("errmsg", ""))
