"""`account.deleted` in messaging: the account's sent messages become tombstones everywhere.

Idempotent, and safe to run while commands are still being handled: the account is recorded
as erased first, so a send of it still queued is refused (never stored, never dead-lettered:
the dead letters would keep its ciphertext), then every message it sent loses its envelope and
its `message.deleted` goes out (counterparts' devices get `message_deleted` frames). Its read
markers go too. A redelivered event finds nothing left to tombstone and re-announces nothing
new; an interrupted run is completed by the redelivery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import structlog
from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from services.messaging import documents as docs
from shared.events import AccountDeleted, MessageDeleted, utcnow
from shared.mongo import Document, IndexSpec

log = structlog.get_logger(__name__)

ERASED = "erased_accounts"
BATCH = 200

INDEXES: IndexSpec = {"messages": [IndexModel([("sender_account_id", 1), ("deleted", 1)])]}


class ErasureRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._erased = db[ERASED]
        self._messages = db["messages"]
        self._markers = db["read_markers"]

    async def mark_erased(self, account_id: str) -> None:
        await self._erased.update_one(
            {"_id": account_id}, {"$setOnInsert": {"erased_at": utcnow()}}, upsert=True
        )

    async def erased_among(self, account_ids: Iterable[str]) -> set[str]:
        cursor = self._erased.find({"_id": {"$in": sorted(set(account_ids))}}, {"_id": 1})
        return {doc["_id"] async for doc in cursor}

    async def live_sent_by(self, account_id: str) -> list[Document]:
        """Up to a batch of the account's messages that still hold an envelope (metadata only)."""
        cursor = self._messages.find(
            {"sender_account_id": account_id, "deleted": False}, {"envelope": 0}
        ).limit(BATCH)
        return [doc async for doc in cursor]

    async def tombstone_all(self, keys: list[str]) -> None:
        await self._messages.update_many(
            {"_id": {"$in": keys}, "deleted": False},
            {"$unset": {"envelope": ""}, "$set": {"deleted": True, "deleted_at": utcnow()}},
        )

    async def forget_markers(self, account_id: str) -> None:
        await self._markers.delete_many({"account_id": account_id})


class Erasure:
    def __init__(
        self, *, repository: ErasureRepository, publish: Callable[[MessageDeleted], Awaitable[None]]
    ) -> None:
        self._repo = repository
        self._publish = publish

    async def account_deleted(self, event: AccountDeleted) -> None:
        account_id = event.data.account_id
        await self._repo.mark_erased(account_id)
        total = 0
        while batch := await self._repo.live_sent_by(account_id):
            # Announced first: a crash in between re-announces (same event ids) on redelivery.
            for doc in batch:
                await self._publish(docs.deleted_event(doc, event.correlation_id))
            await self._repo.tombstone_all([doc["_id"] for doc in batch])
            total += len(batch)
        await self._repo.forget_markers(account_id)
        log.info("account_messages_erased", account_id=account_id, messages=total)

    async def erased_senders(self, account_ids: Iterable[str]) -> set[str]:
        return await self._repo.erased_among(account_ids)
