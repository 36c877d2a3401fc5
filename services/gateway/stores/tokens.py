"""Refresh tokens (stored as hashes) and invites (codes stored as hashes)."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.gateway.model.records import Invite, RefreshRecord
from shared.mongo import Document


def digest(secret: str) -> str:
    """High-entropy secrets need no slow hash: SHA-256 keeps a database leak useless."""
    return hashlib.sha256(secret.encode()).hexdigest()


class RefreshTokenRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["refresh_tokens"]

    async def insert(self, token: str, record: RefreshRecord) -> None:
        with contextlib.suppress(DuplicateKeyError):  # a parallel refresh wrote the successor
            await self._c.insert_one({"_id": digest(token), **record.to_doc()})

    async def find(self, token: str) -> RefreshRecord | None:
        doc = await self._c.find_one({"_id": digest(token)})
        return RefreshRecord.from_doc(doc) if doc else None

    async def spend(self, token: str, at: datetime, successor: str) -> bool:
        """Mark unspent → spent atomically, recording which successor it got (as its hash, the
        successor's own id); False if it was already spent or unknown."""
        doc = await self._c.find_one_and_update(
            {"_id": digest(token), "spent_at": None},
            {"$set": {"spent_at": at, "successor": digest(successor)}},
            return_document=ReturnDocument.AFTER,
        )
        return doc is not None


class InviteRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["invites"]

    async def insert(self, code: str, invite: Invite) -> None:
        await self._c.insert_one({"_id": digest(code), **invite.to_doc()})

    async def usable(self, code: str, now: datetime) -> Invite | None:
        doc = await self._c.find_one(
            {"_id": digest(code), "used_at": None, "expires_at": {"$gt": now}}
        )
        return Invite.from_doc(doc) if doc else None

    async def forget_unused_of(self, account_id: str) -> None:
        """A deactivated account's unused invites can no longer bring anyone in."""
        await self._c.delete_many({"created_by": account_id, "used_at": None})

    async def release(self, code: str, account_id: str) -> None:
        """Undo a claim by this account (its registration failed half way)."""
        await self._c.update_one(
            {"_id": digest(code), "used_by": account_id},
            {"$set": {"used_at": None, "used_by": None}},
        )

    async def conflicted(self, code: str, limit: int, now: datetime) -> bool:
        """Count a handle conflict against an unused invite; burn it at `limit`. True if burnt.

        One invite must not become an oracle for every handle on the server.
        """
        after = await self._c.find_one_and_update(
            {"_id": digest(code), "used_at": None},
            {"$inc": {"conflicts": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if after is None or int(after["conflicts"]) < limit:
            return False
        await self._c.update_one(
            {"_id": digest(code), "used_at": None},
            {"$set": {"used_at": now, "used_by": None, "burnt": True}},
        )
        return True

    async def claim(self, code: str, account_id: str, now: datetime) -> bool:
        """Single use: only one caller ever gets True."""
        doc = await self._c.find_one_and_update(
            {"_id": digest(code), "used_at": None, "expires_at": {"$gt": now}},
            {"$set": {"used_at": now, "used_by": account_id}},
            return_document=ReturnDocument.AFTER,
        )
        return doc is not None
