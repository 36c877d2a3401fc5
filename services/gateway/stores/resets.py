"""Password reset codes: stored as hashes, single use, expiring."""

from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from services.gateway.stores.tokens import digest
from shared.mongo import Document


class ResetCodeRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["reset_codes"]

    async def insert(
        self,
        code: str,
        *,
        reset_id: str,
        account_id: str,
        issued_by: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> None:
        """The newest code of an account is the only one that works: earlier unused ones go.
        Inserted first, then every unused code of the account older than the newest one there
        (by issue time, then digest) is deleted: codes issued at once leave exactly one, the
        newest, whatever order their writes land in."""
        await self._c.insert_one(
            {
                "_id": digest(code),
                "reset_id": reset_id,
                "account_id": account_id,
                "issued_by": issued_by,
                "created_at": created_at,
                "expires_at": expires_at,
                "used_at": None,
            }
        )
        unused = {"account_id": account_id, "used_at": None}
        newest = await self._c.find_one(unused, sort=[("created_at", -1), ("_id", -1)])
        if newest is None:
            return
        await self._c.delete_many(
            unused
            | {
                "$or": [
                    {"created_at": {"$lt": newest["created_at"]}},
                    {"created_at": newest["created_at"], "_id": {"$lt": newest["_id"]}},
                ]
            }
        )

    async def claim(self, code: str, account_id: str, now: datetime) -> Document | None:
        """Single use: only one caller ever gets the code's record, and only for its account
        before it expires."""
        return await self._c.find_one_and_update(
            {
                "_id": digest(code),
                "account_id": account_id,
                "used_at": None,
                "expires_at": {"$gt": now},
            },
            {"$set": {"used_at": now}},
            return_document=ReturnDocument.AFTER,
        )

    async def forget_account(self, account_id: str) -> None:
        await self._c.delete_many({"account_id": account_id})
