"""Backup keys: the current one of each account and every earlier one (never reused)."""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.gateway.model.records import Backup
from shared.mongo import Document


class BackupRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["backups"]

    async def current(self, account_id: str) -> Backup | None:
        doc = await self._c.find_one({"current_of": account_id})
        return Backup.from_doc(doc) if doc else None

    async def by_id(self, backup_id: str) -> Backup | None:
        doc = await self._c.find_one({"_id": backup_id})
        return Backup.from_doc(doc) if doc else None

    async def current_at(self, account_id: str, moment: datetime) -> Backup | None:
        """The backup key that was current at `moment`."""
        query = {
            "account_id": account_id,
            "created_at": {"$lte": moment},
            "$or": [{"revoked_at": None}, {"revoked_at": {"$gt": moment}}],
        }
        doc = await self._c.find_one(query, sort=[("created_at", -1)])
        return Backup.from_doc(doc) if doc else None

    async def of_account(self, account_id: str) -> list[Backup]:
        """Every backup key of the account, oldest first (the export)."""
        cursor = self._c.find({"account_id": account_id}).sort("created_at", 1)
        return [Backup.from_doc(doc) async for doc in cursor]

    async def same_key(self, account_id: str, kx_key: bytes, but: str) -> list[str]:
        """Earlier backup ids of the account that published this very key."""
        cursor = self._c.find(
            {"account_id": account_id, "kx_key": kx_key, "_id": {"$ne": but}}, {"_id": 1}
        ).sort("created_at", 1)
        return [str(doc["_id"]) async for doc in cursor]

    async def retire(self, backup_id: str, at: datetime, reason: str) -> bool:
        """The backup key stops being current; True for the call that retired it."""
        result = await self._c.update_one(
            {"_id": backup_id, "revoked_at": None},
            {"$set": {"revoked_at": at, "revoked_reason": reason}, "$unset": {"current_of": ""}},
        )
        return result.modified_count == 1

    async def insert_current(self, backup: Backup) -> bool:
        """False when another key became current meanwhile (a parallel publish won)."""
        try:
            await self._c.insert_one(backup.to_doc())
        except DuplicateKeyError:
            return False
        return True
