"""The RPC routes of `shared/notify_contracts.py`: push subscriptions, notification settings,
per-conversation detail. The gateway authorizes the caller; this side validates and stores."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from services.notification.push.outbox import Outbox
from services.notification.push.repository import PushRepository, Subscription
from services.notification.push.sealing import SecretSealer
from services.notification.push.urlguard import PushTarget, RefusedUrlError, UrlGuard
from services.notification.push.webpush import Subscriber, VapidKey, check_keys, sealing_context
from shared.notify_contracts import (
    DETAIL_GET,
    DETAIL_PUT,
    INVALID_FIELD,
    NOT_FOUND,
    PUSH_DELETE,
    PUSH_GET,
    PUSH_PUT,
    PUSH_VAPID,
    SETTINGS_GET,
    SETTINGS_PUT,
    NotificationDetailPut,
    NotificationDetailQuery,
    NotificationDetailReply,
    NotificationSettingsPut,
    NotificationSettingsQuery,
    NotificationSettingsReply,
    PushSubscriptionPut,
    PushSubscriptionQuery,
    PushSubscriptionReply,
    VapidQuery,
    VapidReply,
    invalid_fields_detail,
)
from shared.rpc import RpcError, RpcHandler

log = structlog.get_logger(__name__)

Wake = Callable[[str], Awaitable[None]]


class PushPreferences:
    def __init__(
        self,
        repository: PushRepository,
        outbox: Outbox,
        guards: dict[str, UrlGuard],
        sealer: SecretSealer,
        wake: Wake,
        vapid: VapidKey,
        *,
        webpush_enabled: bool,
    ) -> None:
        self._repo = repository
        self._outbox = outbox
        self._guards = guards  # by kind: the webhook allowlist, the push services'
        self._vapid = vapid
        self._webpush_enabled = webpush_enabled
        self._sealer = sealer
        self._wake = wake

    async def put_subscription(self, request: PushSubscriptionPut) -> PushSubscriptionReply:
        await self._own_device(request.account_id, request.device_id)
        if request.kind == "webpush":
            sealed = self._webpush_keys(request)
        else:
            sealed = self._sealer.seal(request.secret or "", request.device_id)
        target = await self._admit(request)
        await self._repo.put_subscription(
            Subscription(
                device_id=request.device_id,
                account_id=request.account_id,
                url=request.url,
                host=target.host,
                sealed_secret=sealed,
                key_id=self._sealer.key_id,
                kind=request.kind,
            )
        )
        log.info(
            "push_subscription_set",
            device_id=request.device_id,
            kind=request.kind,
            host=target.host,
        )
        return PushSubscriptionReply(set=True, kind=request.kind, host=target.host)

    async def _admit(self, request: PushSubscriptionPut) -> PushTarget:
        field = "endpoint" if request.kind == "webpush" else "url"
        try:
            return await self._guards[request.kind].admit(request.url)
        except RefusedUrlError as error:
            raise RpcError(INVALID_FIELD, invalid_fields_detail([field], str(error))) from None

    def _webpush_keys(self, request: PushSubscriptionPut) -> bytes:
        """The subscription's keys, checked and sealed (they are capabilities)."""
        if not self._webpush_enabled:
            reason = "Web Push is not configured on this server (HAVEN_VAPID_SUBJECT)"
            raise RpcError(INVALID_FIELD, invalid_fields_detail(["kind"], reason))
        keys = Subscriber(p256dh=request.p256dh or "", auth=request.auth or "")
        problem = check_keys(keys.p256dh, keys.auth)
        if problem is not None:
            reason = "p256dh is a 65-byte P-256 point, auth 16 bytes, both base64url"
            raise RpcError(INVALID_FIELD, invalid_fields_detail([problem], reason))
        return self._sealer.seal(keys.sealable(), sealing_context(request.device_id))

    async def get_subscription(self, query: PushSubscriptionQuery) -> PushSubscriptionReply:
        subscription = await self._repo.subscription(query.device_id)
        if subscription is None or subscription.account_id != query.account_id:
            return PushSubscriptionReply(set=False)
        return PushSubscriptionReply(set=True, kind=subscription.kind, host=subscription.host)

    async def vapid(self, query: VapidQuery) -> VapidReply:
        return VapidReply(public_key=self._vapid.public_key)

    async def delete_subscription(self, query: PushSubscriptionQuery) -> PushSubscriptionReply:
        """Idempotent; what was owed to the device by push is dropped with it."""
        subscription = await self._repo.subscription(query.device_id)
        if subscription is not None and subscription.account_id != query.account_id:
            raise RpcError(NOT_FOUND, "no such device")
        if subscription is not None:
            await self._repo.delete_subscription(query.device_id)
            log.info("push_subscription_deleted", device_id=query.device_id)
        await self._outbox.forget_device(query.device_id)
        return PushSubscriptionReply(set=False)

    async def get_settings(self, query: NotificationSettingsQuery) -> NotificationSettingsReply:
        return NotificationSettingsReply(settings=await self._repo.preferences(query.account_id))

    async def put_settings(self, request: NotificationSettingsPut) -> NotificationSettingsReply:
        """Deferred pushes are looked at again under the new settings."""
        await self._repo.put_preferences(request.account_id, request.settings)
        await self._wake(request.account_id)
        log.info("notification_settings_set", account_id=request.account_id)
        return NotificationSettingsReply(settings=request.settings)

    async def get_detail(self, query: NotificationDetailQuery) -> NotificationDetailReply:
        detail = await self._repo.detail(query.account_id, query.conversation_id)
        return NotificationDetailReply(
            conversation_id=query.conversation_id, notification_detail=detail
        )

    async def put_detail(self, request: NotificationDetailPut) -> NotificationDetailReply:
        await self._repo.put_detail(
            request.account_id, request.conversation_id, request.notification_detail
        )
        return NotificationDetailReply(
            conversation_id=request.conversation_id,
            notification_detail=request.notification_detail,
        )

    async def _own_device(self, account_id: str, device_id: str) -> None:
        """A device notification knows as removed, or as another account's, is refused; one it
        has not heard of yet (a brand-new device) is the gateway's word."""
        known = await self._repo.device_owner(device_id)
        if known is not None and known != (account_id, True):
            raise RpcError(NOT_FOUND, "no such device")

    def routes(self) -> dict[str, RpcHandler]:
        return dict(
            [
                PUSH_PUT.serve_checked(self.put_subscription),
                PUSH_GET.serve_checked(self.get_subscription),
                PUSH_DELETE.serve_checked(self.delete_subscription),
                PUSH_VAPID.serve_checked(self.vapid),
                SETTINGS_GET.serve_checked(self.get_settings),
                SETTINGS_PUT.serve_checked(self.put_settings),
                DETAIL_GET.serve_checked(self.get_detail),
                DETAIL_PUT.serve_checked(self.put_detail),
            ]
        )
