"""What accounts set for push: subscriptions (sealed secrets), notification settings, each
conversation's `notification_detail`, and the display names relationships carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from services.notification.repository import DEVICES
from shared.events import utcnow
from shared.mongo import Document, IndexSpec
from shared.notify_contracts import (
    DEFAULT_DETAIL,
    DEFAULT_PREFERENCES,
    NotificationDetail,
    NotificationPreferences,
    PushKind,
)

SUBSCRIPTIONS = "push_subscriptions"
SETTINGS = "notification_settings"
DETAILS = "notification_details"
NAMES = "display_names"

INDEXES: IndexSpec = {
    SUBSCRIPTIONS: [IndexModel("account_id")],
    SETTINGS: [],
    DETAILS: [IndexModel("account_id")],
    NAMES: [],
}


@dataclass(frozen=True)
class Subscription:
    device_id: str
    account_id: str
    url: str
    host: str
    sealed_secret: bytes  # a webhook's secret, or a Web Push subscription's keys (JSON)
    key_id: str
    kind: PushKind = "webhook"


class PushRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def put_subscription(self, subscription: Subscription) -> None:
        now = utcnow()
        await self._db[SUBSCRIPTIONS].update_one(
            {"_id": subscription.device_id},
            {
                "$set": {
                    "account_id": subscription.account_id,
                    "url": subscription.url,
                    "host": subscription.host,
                    "secret": subscription.sealed_secret,
                    "key_id": subscription.key_id,
                    "kind": subscription.kind,
                    "updated_at": now,
                },
                "$setOnInsert": {"created_at": now},
            },
            upsert=True,
        )

    async def subscription(self, device_id: str) -> Subscription | None:
        doc = await self._db[SUBSCRIPTIONS].find_one({"_id": device_id})
        if doc is None:
            return None
        return Subscription(
            device_id=device_id,
            account_id=doc["account_id"],
            url=doc["url"],
            host=doc["host"],
            sealed_secret=bytes(doc["secret"]),
            key_id=doc["key_id"],
            kind="webpush" if doc.get("kind") == "webpush" else "webhook",
        )

    async def delete_subscription(self, device_id: str) -> bool:
        result = await self._db[SUBSCRIPTIONS].delete_one({"_id": device_id})
        return result.deleted_count == 1

    async def device_owner(self, device_id: str) -> tuple[str, bool] | None:
        """(account_id, active) from the devices projection; None while it is unknown."""
        doc = await self._db[DEVICES].find_one({"_id": device_id})
        if doc is None:
            return None
        return str(doc["account_id"]), bool(doc.get("active", True))

    async def preferences(self, account_id: str) -> NotificationPreferences:
        doc = await self._db[SETTINGS].find_one({"_id": account_id})
        if doc is None:
            return DEFAULT_PREFERENCES
        return NotificationPreferences.model_validate(_without_meta(doc))

    async def put_preferences(self, account_id: str, settings: NotificationPreferences) -> None:
        await self._db[SETTINGS].replace_one(
            {"_id": account_id},
            {**settings.model_dump(mode="json"), "updated_at": utcnow()},
            upsert=True,
        )

    async def urgent_bypass(self, account_id: str) -> bool:
        """Whether the account lets a client's urgent message through at once."""
        return (await self.preferences(account_id)).urgent_bypass

    async def detail(self, account_id: str, conversation_id: str) -> NotificationDetail:
        doc = await self._db[DETAILS].find_one({"_id": f"{account_id}:{conversation_id}"})
        if doc is None or doc.get("detail") not in ("none", "generic", "sender"):
            return DEFAULT_DETAIL
        detail: NotificationDetail = doc["detail"]
        return detail

    async def put_detail(
        self, account_id: str, conversation_id: str, detail: NotificationDetail
    ) -> None:
        await self._db[DETAILS].update_one(
            {"_id": f"{account_id}:{conversation_id}"},
            {
                "$set": {
                    "account_id": account_id,
                    "conversation_id": conversation_id,
                    "detail": detail,
                    "updated_at": utcnow(),
                }
            },
            upsert=True,
        )

    async def remember_names(self, conversation_id: str, names: dict[str, str]) -> None:
        """The participants' display names, as `relationship.created` carried them."""
        entries = [{"account_id": a, "name": n} for a, n in sorted(names.items())]
        await self._db[NAMES].update_one(
            {"_id": conversation_id},
            {"$set": {"names": entries, "updated_at": utcnow()}},
            upsert=True,
        )

    async def counterpart_name(self, conversation_id: str, account_id: str) -> str | None:
        """The display name of the other participant of the conversation, if it is known."""
        doc = await self._db[NAMES].find_one({"_id": conversation_id})
        for entry in (doc or {}).get("names", []):
            if entry.get("account_id") != account_id and entry.get("name"):
                return str(entry["name"])
        return None

    async def forget_account(self, account_id: str) -> None:
        """`account.deleted`: its subscriptions, settings, details and names go."""
        await self._db[SUBSCRIPTIONS].delete_many({"account_id": account_id})
        await self._db[SETTINGS].delete_one({"_id": account_id})
        await self._db[DETAILS].delete_many({"account_id": account_id})
        await self._db[NAMES].update_many(
            {"names.account_id": account_id}, {"$pull": {"names": {"account_id": account_id}}}
        )


def _without_meta(doc: Document) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("_id", "updated_at")}
