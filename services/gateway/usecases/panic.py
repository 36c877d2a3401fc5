"""Panic exit: one request from a device ends its presence here at once.

Revoked (tokens refused, sockets closed 4403 on every replica), then its push subscription and
everything owed to it by push are deleted before the answer, so nothing more reaches it. The
answer and the audit entry are those of a normal revoke.
"""

from __future__ import annotations

import structlog

from services.gateway import copy
from services.gateway.model.principal import Principal
from services.gateway.stores.accounts import DeviceRepository
from services.gateway.usecases.devices import Devices
from shared.errors import ForbiddenError, HavenError, NotFoundError
from shared.notify_contracts import PUSH_DELETE, PushSubscriptionQuery
from shared.rpc import RpcClient

log = structlog.get_logger(__name__)

# The whole answer must come within a second: the push clean-up gets at most this long (the
# `device.removed` event deletes the same things again if it could not finish in time).
PUSH_CLEANUP_SECONDS = 0.5


class Panic:
    def __init__(self, devices: DeviceRepository, rules: Devices, rpc: RpcClient) -> None:
        self._devices = devices
        self._rules = rules
        self._rpc = rpc

    async def panic(self, who: Principal, device_id: str) -> None:
        device = await self._devices.by_id(device_id)
        if device is None or device.account_id != who.account_id:
            raise NotFoundError("no such device")
        if device_id != who.device_id:
            raise ForbiddenError(copy.PANIC_FROM_DEVICE)
        # No rate limit: someone leaving in a hurry is never asked to wait.
        await self._rules.revoke(device, reason="revoked_by_owner")
        query = PushSubscriptionQuery(account_id=who.account_id, device_id=device_id)
        try:
            await self._rpc.call(PUSH_DELETE, query, timeout=PUSH_CLEANUP_SECONDS)
        except (TimeoutError, HavenError) as error:
            log.warning("panic_push_cleanup_deferred", reason=type(error).__name__)
