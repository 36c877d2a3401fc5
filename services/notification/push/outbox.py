"""What is owed: pending rows (one per device and message), one slot per (device,
conversation) that schedules and leases its push, and the markers that make sending idempotent.

A slot is due when `not_before` has passed. Any replica may claim a due slot: an atomic
`find_one_and_update` sets a lease (token and expiry) that no other replica's claim matches
until it expires, so a push is prepared once even with several replicas, and a replica that
dies holding a lease only delays it. `rev` counts the messages the slot was told of: a claim
that finds it changed on release leaves the slot due for what arrived meanwhile.
`window_until` is the end of the collapse window the slot's last push opened (schedule.py);
it is written only under the lease, when a push is queued, and read again under the lease
before the next one, so a message scheduled against a stale reading still waits for it.

Pending rows are removed once sent (an hour later: a redelivered event within that hour finds
the row and owes nothing again), once read on another device, with their device or its
subscription, and after the retention period whatever happened.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notification.repository import PENDING
from shared.events import utcnow
from shared.mongo import Document, IndexSpec

SLOTS = "push_slots"
SENT = "push_sent"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SENT_KEPT = timedelta(hours=1)

INDEXES: IndexSpec = {
    PENDING: [
        IndexModel([("device_id", ASCENDING), ("conversation_id", ASCENDING)]),
        IndexModel([("account_id", ASCENDING), ("conversation_id", ASCENDING)]),
        IndexModel("sent_at", expireAfterSeconds=int(SENT_KEPT.total_seconds())),
    ],
    SLOTS: [
        IndexModel([("not_before", ASCENDING), ("lease_until", ASCENDING)]),
        IndexModel("device_id"),
        IndexModel([("account_id", ASCENDING), ("conversation_id", ASCENDING)]),
        IndexModel("updated_at"),
    ],
    SENT: [IndexModel("sent_at", expireAfterSeconds=24 * 3600)],
}


@dataclass(frozen=True)
class Slot:
    device_id: str
    conversation_id: str
    account_id: str
    window_until: datetime | None  # the collapse window the last push opened ends then
    rev: int
    lease: str
    unread_before: int  # pushed since the account last read the conversation

    @property
    def id(self) -> str:
        return slot_id(self.device_id, self.conversation_id)


@dataclass(frozen=True)
class Owed:
    message_id: str
    urgent: bool
    seq: int | None


def slot_id(device_id: str, conversation_id: str) -> str:
    return f"{device_id}:{conversation_id}"


class Outbox:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def annotate(self, device_id: str, message_id: str, account_id: str, owed: Owed) -> None:
        """What the push needs of a pending row that NotificationRepository recorded."""
        await self._db[PENDING].update_one(
            {"device_id": device_id, "message_id": message_id},
            {"$set": {"account_id": account_id, "urgent": owed.urgent, "seq": owed.seq}},
        )

    async def window_until(self, device_id: str, conversation_id: str) -> datetime | None:
        """The end of the slot's open collapse window, if it has one (it may have passed)."""
        doc = await self._db[SLOTS].find_one(
            {"_id": slot_id(device_id, conversation_id)}, {"window_until": 1}
        )
        window: datetime | None = (doc or {}).get("window_until")
        return window

    async def open_slot(
        self, device_id: str, conversation_id: str, account_id: str, due: datetime
    ) -> None:
        """Schedule the slot's push no later than `due` (an earlier schedule stands)."""
        update = {
            "$set": {
                "device_id": device_id,
                "conversation_id": conversation_id,
                "account_id": account_id,
                "updated_at": utcnow(),
            },
            "$min": {"not_before": due},
            "$inc": {"rev": 1},
            "$setOnInsert": {"lease_until": EPOCH, "unread_before": 0, "pushed_seq": -1},
        }
        key = {"_id": slot_id(device_id, conversation_id)}
        try:
            await self._db[SLOTS].update_one(key, update, upsert=True)
        except DuplicateKeyError:  # a competing replica inserted it first: now it exists
            await self._db[SLOTS].update_one(key, update)

    async def claim_due(self, now: datetime, lease: timedelta) -> Slot | None:
        token = uuid.uuid4().hex
        doc = await self._db[SLOTS].find_one_and_update(
            {"not_before": {"$lte": now}, "lease_until": {"$lte": now}},
            {"$set": {"lease_until": now + lease, "lease": token}},
            sort=[("not_before", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        return Slot(
            device_id=doc["device_id"],
            conversation_id=doc["conversation_id"],
            account_id=doc["account_id"],
            window_until=doc.get("window_until"),
            rev=int(doc.get("rev", 0)),
            lease=token,
            unread_before=int(doc.get("unread_before", 0)),
        )

    async def unsent(self, device_id: str, conversation_id: str) -> list[Owed]:
        cursor = self._db[PENDING].find(
            {
                "device_id": device_id,
                "conversation_id": conversation_id,
                "sent_at": {"$exists": False},
            }
        )
        rows = [
            Owed(str(doc["message_id"]), bool(doc.get("urgent", False)), doc.get("seq"))
            async for doc in cursor
        ]
        return sorted(rows, key=lambda row: (row.seq is None, row.seq or 0, row.message_id))

    async def defer(self, slot: Slot, until: datetime) -> None:
        """Not before `until` (unless a message arrived meanwhile: then due again at once)."""
        deferred = await self._db[SLOTS].update_one(
            {"_id": slot.id, "lease": slot.lease, "rev": slot.rev},
            {"$set": {"not_before": until, "lease_until": EPOCH}, "$unset": {"lease": ""}},
        )
        if deferred.matched_count == 0:
            await self.release(slot)

    async def release(self, slot: Slot) -> None:
        await self._db[SLOTS].update_one(
            {"_id": slot.id, "lease": slot.lease},
            {"$set": {"lease_until": EPOCH}, "$unset": {"lease": ""}},
        )

    async def settle(
        self, slot: Slot, sent: list[Owed], now: datetime, window_until: datetime | None = None
    ) -> None:
        """The push for `sent` is queued: mark them, count them, open the collapse window
        (`window_until`), and close the slot unless a message arrived meanwhile."""
        if sent:
            await self._db[PENDING].update_many(
                {"device_id": slot.device_id, "message_id": {"$in": [r.message_id for r in sent]}},
                {"$set": {"sent_at": now}},
            )
        seqs = [r.seq for r in sent if r.seq is not None]
        opened = {"window_until": window_until} if sent and window_until is not None else {}
        update: Document = {
            "$set": {"lease_until": EPOCH, "updated_at": now, **opened},
            "$inc": {"unread_before": len(sent)},
            **({"$max": {"pushed_seq": max(seqs)}} if seqs else {}),
        }
        closed = await self._db[SLOTS].update_one(
            {"_id": slot.id, "lease": slot.lease, "rev": slot.rev},
            {**update, "$unset": {"lease": "", "not_before": "", "collapse_until": ""}},
        )
        if closed.matched_count == 0:
            await self._db[SLOTS].update_one(
                {"_id": slot.id, "lease": slot.lease}, {**update, "$unset": {"lease": ""}}
            )

    async def read(
        self, account_id: str, conversation_id: str, up_to_seq: int, now: datetime
    ) -> None:
        """The account read the conversation up to `up_to_seq` (on any device): what that
        covers is owed no push, and the unread count starts again."""
        await self._db[PENDING].update_many(
            {
                "account_id": account_id,
                "conversation_id": conversation_id,
                "sent_at": {"$exists": False},
                "seq": {"$lte": up_to_seq},
            },
            {"$set": {"sent_at": now}},
        )
        await self._db[SLOTS].update_many(
            {
                "account_id": account_id,
                "conversation_id": conversation_id,
                "pushed_seq": {"$lte": up_to_seq},
            },
            {"$set": {"unread_before": 0}},
        )

    async def wake(self, account_id: str, now: datetime) -> int:
        """Deferred pushes of the account are looked at again now (its settings changed)."""
        result = await self._db[SLOTS].update_many(
            {"account_id": account_id, "not_before": {"$gt": now}},
            {"$set": {"not_before": now}},
        )
        return result.modified_count

    async def forget_device(self, device_id: str) -> None:
        """Nothing is owed to a device that is gone or has no push gateway any more."""
        await self._db[PENDING].delete_many({"device_id": device_id})
        await self._db[SLOTS].delete_many({"device_id": device_id})

    async def forget_account(self, account_id: str) -> None:
        await self._db[PENDING].delete_many({"account_id": account_id})
        await self._db[SLOTS].delete_many({"account_id": account_id})

    async def expire(self, now: datetime, retention: timedelta) -> int:
        """Bounded retention: rows older than `retention`, and slots idle that long."""
        cutoff = now - retention
        rows = await self._db[PENDING].delete_many({"created_at": {"$lt": cutoff}})
        await self._db[SLOTS].delete_many(
            {"not_before": {"$exists": False}, "updated_at": {"$lt": cutoff}}
        )
        return rows.deleted_count

    async def was_sent(self, delivery_id: str) -> bool:
        return await self._db[SENT].find_one({"_id": delivery_id}) is not None

    async def mark_sent(self, delivery_id: str, now: datetime) -> None:
        await self._db[SENT].update_one(
            {"_id": delivery_id}, {"$setOnInsert": {"sent_at": now}}, upsert=True
        )
