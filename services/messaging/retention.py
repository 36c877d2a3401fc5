"""Retention in messaging: each conversation's effective retention (from `retention.changed`),
`expires_at` on its messages, the sweep that deletes them once it passes, and the filter every
read applies until the sweep comes by.

The gateway computes the effective retention (the shorter of both participants' choices within
the operator's bounds) and announces it; here the newest announcement by `occurred_at` wins,
whatever order RabbitMQ delivers them in, and it is re-applied to the messages already stored.
A message expires `retention_days` after its `server_ts`; `None` keeps it until deleted.

Messaging deletes expired messages itself, through a sparse index on `expires_at`, rather than
leaving them to a store TTL index: a range read of that index costs what has expired, whereas
the embedded store's TTL sweeper reads every document of a TTL-indexed collection under its
storage lock, a stall that grew with `messages` (docs/PERFORMANCE.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import structlog
from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.events import RetentionChanged
from shared.mongo import Document, IndexSpec

log = structlog.get_logger(__name__)

RETENTION = "retention"
EXPIRES_AT = "expires_at"
KNOWN_MAX = 100_000  # conversations whose retention one process keeps in memory
EXPIRY_BATCH = 500  # messages per deletion of the sweep: the store is never held for long
EXPIRY_SWEEP_SECONDS = 60.0  # as often as MongoDB's TTL monitor runs

INDEXES: IndexSpec = {
    # Sparse: only messages under a retention are in it. It replaces the TTL index of the same
    # keys, `ttl_expires_at`, which `Mongo.ensure_indexes` drops on an existing deployment.
    "messages": [IndexModel(EXPIRES_AT, sparse=True, name="expires_at")],
}


def expired(doc: Document, now: datetime) -> bool:
    """Whether a message document has expired by `now` (no `expires_at`: kept).

    Checked on the documents read rather than in the query: a clause on `expires_at` makes
    the embedded store read through its `expires_at` index, a cost that grows with the
    collection."""
    expiry = doc.get(EXPIRES_AT)
    return expiry is not None and _aware(expiry) <= now


def expiry_sweep_pause(day_seconds: float) -> float:
    """Seconds between sweeps: every minute, or a quarter of a retention "day" shortened in
    tests and development, so a message is gone soon after its last day."""
    return min(EXPIRY_SWEEP_SECONDS, max(0.5, day_seconds / 4))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class RetentionRepository:
    def __init__(self, *, db: AsyncDatabase[Document], day_seconds: float) -> None:
        self._retention = db[RETENTION]
        self._messages = db["messages"]
        self._day_ms = day_seconds * 1000

    def expires_at(self, server_ts: datetime, retention_days: int | None) -> datetime | None:
        if retention_days is None:
            return None
        return server_ts + timedelta(milliseconds=retention_days * self._day_ms)

    async def record(self, conversation_id: str, days: int | None, occurred_at: datetime) -> bool:
        """Keep the newest announcement; True if this one is it (or equal: a redelivery).

        One atomic upsert: a newer stored value fails the filter, and the insert it then
        attempts collides on `_id`."""
        try:
            await self._retention.update_one(
                {"_id": conversation_id, "occurred_at": {"$lte": occurred_at}},
                {"$set": {"retention_days": days, "occurred_at": occurred_at}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    async def days_of(self, conversation_ids: Iterable[str]) -> dict[str, int | None]:
        """Each conversation's effective retention; absent ones keep their messages."""
        cursor = self._retention.find({"_id": {"$in": sorted(set(conversation_ids))}})
        return {doc["_id"]: doc.get("retention_days") async for doc in cursor}

    async def delete_expired(self, now: datetime) -> int:
        """Delete the messages whose `expires_at` has passed by `now`, a batch at a time.

        The deletion repeats the expiry clause: a retention cleared meanwhile keeps them."""
        expired_by_now = {EXPIRES_AT: {"$lte": now}}
        deleted = 0
        while True:
            cursor = self._messages.find(expired_by_now, {"_id": 1}).limit(EXPIRY_BATCH)
            ids = [doc["_id"] async for doc in cursor]
            if not ids:
                return deleted
            result = await self._messages.delete_many({"_id": {"$in": ids}, **expired_by_now})
            deleted += result.deleted_count
            if len(ids) < EXPIRY_BATCH:
                return deleted

    async def apply(self, conversation_id: str, days: int | None) -> int:
        """Stamp (or clear) `expires_at` on every message of the conversation."""
        query = {"conversation_id": conversation_id}
        if days is None:
            result = await self._messages.update_many(query, {"$unset": {EXPIRES_AT: ""}})
        else:
            offset = days * self._day_ms
            result = await self._messages.update_many(
                query, [{"$set": {EXPIRES_AT: {"$add": ["$server_ts", offset]}}}]
            )
        return result.modified_count


class Retention:
    """`retention.changed` in, `expires_at` on the conversation's messages out."""

    def __init__(self, repository: RetentionRepository) -> None:
        self._repo = repository
        # The last retention read from the store per conversation: `stamp` goes by it,
        # `settle` reads the store again after every insert (the authority) and corrects both
        # the copy and, if it was stale, the messages. So a batch costs one read, not two.
        self._known: dict[str, int | None] = {}

    async def changed(self, event: RetentionChanged) -> None:
        data = event.data
        if not await self._repo.record(
            data.conversation_id, data.retention_days, event.occurred_at
        ):
            log.info("retention_stale_ignored", conversation_id=data.conversation_id)
            return
        # The newest stored value, not this event's: a newer one may have landed meanwhile.
        days = (await self._repo.days_of([data.conversation_id])).get(data.conversation_id)
        self._remember({data.conversation_id: days})
        updated = await self._repo.apply(data.conversation_id, days)
        log.info(
            "retention_applied",
            conversation_id=data.conversation_id,
            retention_days=days,
            messages=updated,
        )

    async def settle(self, docs: Iterable[Document]) -> None:
        """After an insert: a retention change that landed between `stamp` and the insert
        applied itself to the stored messages before these existed; apply it to them now.
        (A change landing after this read applies itself to them.)"""
        inserted = list(docs)
        ids = {doc["conversation_id"] for doc in inserted}
        stored = await self._repo.days_of(ids)
        days = {conversation_id: stored.get(conversation_id) for conversation_id in ids}
        self._remember(days)
        stale = {
            doc["conversation_id"]
            for doc in inserted
            if doc.get(EXPIRES_AT)
            != self._repo.expires_at(doc["server_ts"], days.get(doc["conversation_id"]))
        }
        for conversation_id in sorted(stale):
            await self._repo.apply(conversation_id, days.get(conversation_id))
            log.info("retention_reapplied_after_race", conversation_id=conversation_id)

    async def stamp(self, docs: Iterable[Document]) -> None:
        """Give new message documents their `expires_at` before they are inserted."""
        pending = list(docs)
        ids = {doc["conversation_id"] for doc in pending}
        days = {c: self._known[c] for c in ids if c in self._known}
        if unknown := ids - days.keys():
            stored = await self._repo.days_of(unknown)
            fresh = {conversation_id: stored.get(conversation_id) for conversation_id in unknown}
            self._remember(fresh)
            days.update(fresh)
        for doc in pending:
            expiry = self._repo.expires_at(doc["server_ts"], days.get(doc["conversation_id"]))
            if expiry is not None:
                doc[EXPIRES_AT] = expiry

    def _remember(self, days: dict[str, int | None]) -> None:
        if len(self._known) + len(days) > KNOWN_MAX:
            self._known.clear()  # a cache, not state: the next stamps read again
        self._known.update(days)
