"""Accounts and devices."""

from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.gateway.model.records import Account, Device
from shared.mongo import Document

MAX_ACTIVE_DEVICES = 10
# Older kx keys kept for messages wrapped before a rotation; older ones are dropped.
MAX_PREVIOUS_KX = 16


class AlreadyExistsError(Exception):
    """A unique key (handle, identity key) is taken."""


class AccountRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["accounts"]

    async def insert(self, account: Account) -> None:
        try:
            await self._c.insert_one(account.to_doc())
        except DuplicateKeyError as error:
            raise AlreadyExistsError("handle") from error

    async def by_handle(self, handle: str) -> Account | None:
        doc = await self._c.find_one({"handle": handle, "status": "active"})
        return Account.from_doc(doc) if doc else None

    async def handle_taken(self, handle: str) -> bool:
        """Any account, active or not, holds the handle for good."""
        return await self._c.find_one({"handle": handle}, {"_id": 1}) is not None

    async def by_id(self, account_id: str) -> Account | None:
        doc = await self._c.find_one({"_id": account_id})
        return Account.from_doc(doc) if doc else None

    async def by_ids(self, account_ids: list[str]) -> dict[str, Account]:
        cursor = self._c.find({"_id": {"$in": account_ids}})
        return {doc["_id"]: Account.from_doc(doc) async for doc in cursor}

    async def delete(self, account_id: str) -> None:
        await self._c.delete_one({"_id": account_id})

    async def any_operator(self) -> bool:
        return await self._c.find_one({"role": "operator", "status": "active"}) is not None

    async def page(self, role: str | None, after_handle: str | None, limit: int) -> list[Account]:
        """Accounts in handle order (the handle index), optionally of one role."""
        query: Document = {}
        if role is not None:
            query["role"] = role
        if after_handle is not None:
            query["handle"] = {"$gt": after_handle}
        cursor = self._c.find(query).sort("handle", 1).limit(limit)
        return [Account.from_doc(doc) async for doc in cursor]

    async def set_status(self, account_id: str, status: str) -> bool:
        """True when the status changed."""
        result = await self._c.update_one(
            {"_id": account_id, "status": {"$ne": status}}, {"$set": {"status": status}}
        )
        return result.modified_count == 1

    async def set_password(self, account_id: str, password_hash: bytes) -> None:
        await self._c.update_one({"_id": account_id}, {"$set": {"password_hash": password_hash}})


class DeviceRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["devices"]

    async def insert(self, device: Device) -> None:
        try:
            await self._c.insert_one(device.to_doc())
        except DuplicateKeyError as error:
            raise AlreadyExistsError("identity_key") from error

    async def by_id(self, device_id: str) -> Device | None:
        doc = await self._c.find_one({"_id": device_id})
        return Device.from_doc(doc) if doc else None

    async def delete(self, device_id: str) -> None:
        await self._c.delete_one({"_id": device_id})

    async def by_identity_key(self, identity_key: bytes) -> Device | None:
        doc = await self._c.find_one({"identity_key": identity_key})
        return Device.from_doc(doc) if doc else None

    async def active_of(self, account_id: str) -> list[Device]:
        cursor = self._c.find({"account_id": account_id, "revoked_at": None}).sort("created_at", 1)
        return [Device.from_doc(doc) async for doc in cursor]

    async def active_at(self, account_id: str, moment: datetime) -> list[Device]:
        """The account's devices that were active at `moment` (as they are stored now)."""
        query = {
            "account_id": account_id,
            "created_at": {"$lte": moment},
            "$or": [{"revoked_at": None}, {"revoked_at": {"$gt": moment}}],
        }
        return [Device.from_doc(doc) async for doc in self._c.find(query).sort("created_at", 1)]

    async def active_of_many(self, account_ids: list[str]) -> list[Device]:
        cursor = self._c.find({"account_id": {"$in": account_ids}, "revoked_at": None})
        return [Device.from_doc(doc) async for doc in cursor]

    async def count_active(self, account_id: str) -> int:
        return await self._c.count_documents({"account_id": account_id, "revoked_at": None})

    async def rename(self, device_id: str, name: str) -> Device | None:
        doc = await self._c.find_one_and_update(
            {"_id": device_id}, {"$set": {"name": name}}, return_document=ReturnDocument.AFTER
        )
        return Device.from_doc(doc) if doc else None

    async def new_session(self, device_id: str, seen_at: datetime) -> Device | None:
        """Start a new session epoch: access and refresh tokens of earlier sessions stop working."""
        doc = await self._c.find_one_and_update(
            {"_id": device_id, "revoked_at": None},
            {"$inc": {"session": 1}, "$set": {"last_seen_at": seen_at}},
            return_document=ReturnDocument.AFTER,
        )
        return Device.from_doc(doc) if doc else None

    async def end_session(self, device_id: str) -> None:
        await self._c.update_one({"_id": device_id}, {"$inc": {"session": 1}})

    async def revoke(
        self, device_id: str, at: datetime, *, unseen_since: datetime | None = None
    ) -> bool:
        """True for the call that revoked it; with `unseen_since`, only if it was not used since
        (an expiry loses to a refresh that came first)."""
        query: Document = {"_id": device_id, "revoked_at": None}
        if unseen_since is not None:
            query["last_seen_at"] = unseen_since
        result = await self._c.update_one(
            query, {"$set": {"revoked_at": at}, "$inc": {"session": 1}}
        )
        return result.modified_count == 1

    async def rotate_kx(
        self, device_id: str, kx_key: bytes, kx_signature: bytes, at: datetime
    ) -> None:
        """Replace the kx key and keep the old one: older messages were wrapped with it."""
        current = await self._c.find_one({"_id": device_id}, {"kx_key": 1, "kx_signature": 1})
        if current is None:
            return
        previous = {
            "kx_key": current["kx_key"],
            "kx_signature": current["kx_signature"],
            "replaced_at": at,
        }
        await self._c.update_one(
            {"_id": device_id},
            {
                "$set": {"kx_key": kx_key, "kx_signature": kx_signature},
                "$push": {"previous_kx_keys": {"$each": [previous], "$slice": -MAX_PREVIOUS_KX}},
            },
        )

    async def removal_announced(self, device_id: str) -> None:
        """The revocation's event is in the outbox: revoking again has nothing left to do."""
        await self._c.update_one({"_id": device_id}, {"$set": {"removal_announced": True}})

    async def touch(self, device_id: str, session: int, at: datetime) -> bool:
        """Seen now, if still active in this session: False once a revocation or a sign-out
        came first (the two meet on the one document, so either the use or the end wins)."""
        result = await self._c.update_one(
            {"_id": device_id, "revoked_at": None, "session": session},
            {"$set": {"last_seen_at": at}},
        )
        return result.matched_count == 1

    async def unseen_since(self, cutoff: datetime) -> list[Device]:
        """Active devices last seen before `cutoff`, the longest unseen first."""
        cursor = self._c.find({"revoked_at": None, "last_seen_at": {"$lt": cutoff}})
        return [Device.from_doc(doc) async for doc in cursor.sort("last_seen_at", 1)]

    async def seen_later_sibling(self, device: Device) -> bool:
        """Whether another active device of the account was seen later (ties: the larger id):
        an account's most recently seen device is its last one."""
        later = {"$gt": device.last_seen_at}
        query = {
            "account_id": device.account_id,
            "revoked_at": None,
            "$or": [
                {"last_seen_at": later},
                {"last_seen_at": device.last_seen_at, "_id": {"$gt": device.device_id}},
            ],
        }
        return await self._c.find_one(query, {"_id": 1}) is not None

    async def claim_expiry_warning(
        self, device_id: str, seen: datetime, due: datetime, now: datetime
    ) -> bool:
        """Once per expiry period (a last-seen time): True for the call that records it."""
        result = await self._c.update_one(
            {"_id": device_id, "revoked_at": None, "last_seen_at": seen,
             "expiry_warning.for": {"$ne": seen}},
            {"$set": {"expiry_warning": {"for": seen, "at": now, "expires_at": due}}},
        )  # fmt: skip
        return result.modified_count == 1
