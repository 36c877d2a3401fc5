"""The gateway's queries for exports and erasure: one account's documents across collections,
read as cursors (an export never holds a whole collection) and erased idempotently."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from datetime import datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from services.gateway.model.records import AuditRecord, Backup, Device, Link, Relationship
from shared.mongo import Document

PAGE = 100


class PersonalData:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    # --- export -----------------------------------------------------------------------

    async def devices_of(self, account_ids: Sequence[str]) -> list[Device]:
        """Every device of these accounts, revoked ones too (their keys verify old messages)."""
        cursor = self._db["devices"].find({"account_id": {"$in": list(account_ids)}})
        return [Device.from_doc(doc) async for doc in cursor.sort("created_at", 1)]

    async def backups_of(self, account_id: str) -> list[Backup]:
        """Every backup key the account published, replaced and removed ones too."""
        cursor = self._db["backups"].find({"account_id": account_id}).sort("created_at", 1)
        return [Backup.from_doc(doc) async for doc in cursor]

    async def links_of(self, account_id: str) -> list[Link]:
        """Device links of the account not yet acknowledged (expired ones may linger a minute)."""
        cursor = self._db["links"].find({"account_id": account_id}).sort("created_at", 1)
        return [Link.from_doc(doc) async for doc in cursor]

    async def audit_about(self, account_id: str) -> AsyncGenerator[AuditRecord, None]:
        """The audit entries about the account (its own, and what others did to its
        conversations), oldest first, fetched a page at a time."""
        query = {"$or": [{"account_id": account_id}, {"about": account_id}]}
        cursor = self._db["audit"].find(query).sort([("at", 1), ("_id", 1)])
        async for doc in cursor.batch_size(PAGE):
            yield AuditRecord.from_doc(doc)

    # --- erasure ----------------------------------------------------------------------

    async def mark_deleted(self, account_id: str, at: datetime) -> bool:
        """Active -> deleted, once: True for the call that did it. Logins look for active
        accounts only; the handle stays taken for good (registration checks every account)."""
        doc = await self._db["accounts"].find_one_and_update(
            {"_id": account_id, "status": "active"},
            {"$set": {"status": "deleted", "deleted_at": at, "erased_at": None}},
            return_document=ReturnDocument.AFTER,
        )
        return doc is not None

    async def unfinished_deletions(self) -> list[str]:
        cursor = (
            self._db["accounts"]
            .find({"status": "deleted", "erased_at": None}, {"_id": 1})
            .limit(PAGE)
        )
        return [doc["_id"] async for doc in cursor]

    async def strip_account(self, account_id: str, at: datetime) -> None:
        """What stays of a deleted account: id, handle (never reused), role and dates; of its
        devices the ids, identity keys (never accepted again) and dates. Its settings in its
        relationships and every invite it made or used go (the receipt's `keeps` says so)."""
        await self._db["accounts"].update_one(
            {"_id": account_id},
            {"$set": {"display_name": "", "password_hash": b"", "erased_at": at}},
        )
        await self._db["devices"].update_many(
            {"account_id": account_id},
            {
                "$set": {"name": "", "kx_key": b"", "kx_signature": b"", "erased_at": at},
                "$unset": {"previous_kx_keys": ""},
            },
        )
        # Its backup keys: retired, public key and signatures erased (ids and dates stay).
        await self._db["backups"].update_many(
            {"account_id": account_id, "revoked_at": None},
            {"$set": {"revoked_at": at, "revoked_reason": "account_deleted"}},
        )
        await self._db["backups"].update_many(
            {"account_id": account_id},
            {
                "$set": {"kx_key": b"", "signatures": {}, "erased_at": at},
                "$unset": {"current_of": ""},
            },
        )
        await self._db["links"].delete_many({"account_id": account_id})
        await self._db["reset_codes"].delete_many({"account_id": account_id})
        mine = {"$or": [{"coach_account_id": account_id}, {"client_account_id": account_id}]}
        await self._db["relationships"].update_many(
            mine, {"$unset": {f"settings.{account_id}": ""}}
        )
        await self._db["invites"].delete_many(
            {"$or": [{"created_by": account_id}, {"used_by": account_id}]}
        )

    async def forget_tokens(self, account_id: str) -> None:
        await self._db["refresh_tokens"].delete_many({"account_id": account_id})
        # Unused invites the account made can no longer bring anyone in.
        await self._db["invites"].delete_many({"created_by": account_id, "used_at": None})

    async def open_relationships(self, account_id: str) -> list[Relationship]:
        query = {
            "$or": [{"coach_account_id": account_id}, {"client_account_id": account_id}],
            "status": {"$ne": "ended"},
        }
        return [Relationship.from_doc(doc) async for doc in self._db["relationships"].find(query)]
