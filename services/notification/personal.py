"""One account's data in notification: its export (facts, never secrets) and its erasure on
`account.deleted` (what the push engine does not already forget: availability, pending rows
and push slots of its devices, its device projection and announcements)."""

from __future__ import annotations

import structlog
from pymongo.asynchronous.database import AsyncDatabase

from services.notification.availability.repository import AVAILABILITY
from services.notification.push.outbox import SLOTS
from services.notification.push.repository import DETAILS, SETTINGS, SUBSCRIPTIONS
from services.notification.repository import ANNOUNCEMENTS, DEVICES, PENDING
from shared.data_contracts import (
    NOTIFICATION_EXPORT,
    ConversationDetail,
    PersonalDataQuery,
    PersonalDataReply,
    PushRegistration,
)
from shared.events import AccountDeleted
from shared.mongo import Document
from shared.rpc import RpcHandler

log = structlog.get_logger(__name__)

META = ("_id", "updated_at")


class PersonalData:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def export(self, query: PersonalDataQuery) -> PersonalDataReply:
        account_id = query.account_id
        settings = await self._db[SETTINGS].find_one({"_id": account_id})
        availability = await self._db[AVAILABILITY].find_one({"_id": account_id})
        push = [
            PushRegistration(
                device_id=doc["_id"],
                host=doc["host"],
                created_at=doc.get("created_at"),
                updated_at=doc.get("updated_at"),
            )
            async for doc in self._db[SUBSCRIPTIONS].find({"account_id": account_id})
        ]
        details = [
            ConversationDetail(
                conversation_id=doc["conversation_id"], notification_detail=doc["detail"]
            )
            async for doc in self._db[DETAILS].find({"account_id": account_id})
        ]
        return PersonalDataReply(
            settings={k: v for k, v in settings.items() if k not in META} if settings else None,
            availability=availability["availability"] if availability else None,
            push=push,
            notification_details=details,
        )

    async def account_deleted(self, event: AccountDeleted) -> None:
        """Idempotent; runs beside the push engine's own `account_deleted`."""
        account_id = event.data.account_id
        devices = [doc["_id"] async for doc in self._db[DEVICES].find({"account_id": account_id})]
        await self._db[PENDING].delete_many({"device_id": {"$in": devices}})
        await self._db[SLOTS].delete_many({"device_id": {"$in": devices}})
        await self._db[AVAILABILITY].delete_one({"_id": account_id})
        await self._db[DEVICES].update_many({"account_id": account_id}, {"$set": {"active": False}})
        await self._db[ANNOUNCEMENTS].delete_one({"_id": account_id})
        log.info("account_erased_in_notification", account_id=account_id, devices=len(devices))

    def routes(self) -> dict[str, RpcHandler]:
        return dict([NOTIFICATION_EXPORT.serve(self.export)])
