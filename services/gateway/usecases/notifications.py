"""Push subscriptions, notification settings and coach availability: checked here (who may
read or change what), kept by the notification service, reached over typed RPC."""

from __future__ import annotations

from typing import Any

from services.gateway.model.principal import Principal
from services.gateway.security.limits import Limits
from services.gateway.stores.accounts import DeviceRepository
from services.gateway.stores.audit import AuditLog
from services.gateway.usecases.devices import Devices
from shared.availability_contracts import (
    AVAILABILITY_GET,
    AVAILABILITY_PUT,
    Availability,
    AvailabilityPut,
    AvailabilityQuery,
)
from shared.errors import ForbiddenError, NotFoundError, UnprocessableError
from shared.events import utcnow
from shared.notify_contracts import (
    PUSH_DELETE,
    PUSH_GET,
    PUSH_PUT,
    SETTINGS_GET,
    SETTINGS_PUT,
    NotificationPreferences,
    NotificationSettingsPut,
    NotificationSettingsQuery,
    PushSubscriptionPut,
    PushSubscriptionQuery,
)
from shared.rpc import RpcClient


class Notifications:
    def __init__(
        self,
        devices: DeviceRepository,
        device_rules: Devices,
        limits: Limits,
        rpc: RpcClient,
        audit: AuditLog,
    ) -> None:
        self._audit = audit
        self._devices = devices
        self._device_rules = device_rules
        self._limits = limits
        self._rpc = rpc

    async def _own_device(self, who: Principal, device_id: str) -> None:
        device = await self._devices.by_id(device_id)
        if device is None or device.account_id != who.account_id or not device.active:
            raise NotFoundError("no such device")

    async def set_push(
        self, who: Principal, device_id: str, url: str, secret: str
    ) -> dict[str, Any]:
        await self._own_device(who, device_id)
        await self._limits.check("device_ops", who.account_id, utcnow())
        reply = await self._rpc.call(
            PUSH_PUT,
            PushSubscriptionPut(
                account_id=who.account_id, device_id=device_id, url=url, secret=secret
            ),
        )
        return reply.body()

    async def push(self, who: Principal, device_id: str) -> dict[str, Any]:
        await self._own_device(who, device_id)
        query = PushSubscriptionQuery(account_id=who.account_id, device_id=device_id)
        return (await self._rpc.call(PUSH_GET, query)).body()

    async def remove_push(self, who: Principal, device_id: str) -> None:
        await self._own_device(who, device_id)
        query = PushSubscriptionQuery(account_id=who.account_id, device_id=device_id)
        await self._rpc.call(PUSH_DELETE, query)

    async def settings(self, who: Principal) -> dict[str, Any]:
        query = NotificationSettingsQuery(account_id=who.account_id)
        return (await self._rpc.call(SETTINGS_GET, query)).settings.body()

    async def set_settings(
        self, who: Principal, preferences: NotificationPreferences
    ) -> dict[str, Any]:
        if preferences.urgent_bypass and who.role != "coach":
            raise UnprocessableError(
                "urgent_bypass is for coaches: it lets a client's urgent message through",
                field="urgent_bypass",
            )
        if preferences.urgent_while_paused and who.role != "coach":
            raise UnprocessableError(
                "urgent_while_paused is for coaches: it tells them of a client's urgent attempt",
                field="urgent_while_paused",
            )
        put = NotificationSettingsPut(account_id=who.account_id, settings=preferences)
        answer = (await self._rpc.call(SETTINGS_PUT, put)).settings.body()
        await self._audit.record(
            "notification_settings_changed",
            account_id=who.account_id,
            device_id=who.device_id,
            changed=sorted(preferences.model_fields_set),
        )
        return answer

    async def set_availability(self, who: Principal, availability: Availability) -> dict[str, Any]:
        if who.role != "coach":
            raise ForbiddenError("availability is a coach's to set")
        put = AvailabilityPut(account_id=who.account_id, availability=availability)
        answer = (await self._rpc.call(AVAILABILITY_PUT, put)).body()
        await self._audit.record(
            "availability_changed", account_id=who.account_id, device_id=who.device_id
        )
        return answer

    async def availability(self, who: Principal, account_id: str) -> dict[str, Any]:
        """A coach's own, or a connected client's view of their coach's (404 otherwise)."""
        if not await self._device_rules.may_see(who, account_id):
            raise NotFoundError("no such account")
        reply = await self._rpc.call(AVAILABILITY_GET, AvailabilityQuery(account_id=account_id))
        return reply.body()
