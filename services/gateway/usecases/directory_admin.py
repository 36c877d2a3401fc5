"""Operators manage accounts: list them, deactivate one (its devices revoked at once)."""

from __future__ import annotations

from services.gateway.model.principal import Principal
from services.gateway.model.records import Account
from services.gateway.stores.accounts import AccountRepository, DeviceRepository
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.tokens import InviteRepository
from services.gateway.usecases.devices import Devices
from services.gateway.usecases.operations import operators_only
from shared.errors import ConflictError, NotFoundError

DEACTIVATED = "deactivated"


class AccountAdmin:
    def __init__(
        self,
        accounts: AccountRepository,
        devices: DeviceRepository,
        device_rules: Devices,
        audit: AuditLog,
        invites: InviteRepository,
    ) -> None:
        self._invites = invites
        self._accounts = accounts
        self._devices = devices
        self._device_rules = device_rules
        self._audit = audit

    async def page(
        self, who: Principal, role: str | None, after: str | None, limit: int
    ) -> tuple[list[Account], str | None]:
        """A page in handle order and the handle to continue after (None: the last page)."""
        operators_only(who)
        found = await self._accounts.page(role, after, limit + 1)
        more = len(found) > limit
        return found[:limit], (found[limit - 1].handle if more else None)

    async def deactivate(self, who: Principal, account_id: str) -> Account:
        """Idempotent; the account can no longer sign in and every device of it is revoked (its
        sockets close, its tokens stop). Its handle stays taken; its conversations stay readable
        for the counterpart."""
        operators_only(who)
        if account_id == who.account_id:
            raise ConflictError("an operator cannot deactivate their own account")
        account = await self._accounts.by_id(account_id)
        if account is None:
            raise NotFoundError("no such account")
        changed = await self._accounts.set_status(account_id, DEACTIVATED)
        for device in await self._devices.active_of(account_id):
            await self._device_rules.revoke(device, reason="account_deactivated")
        await self._invites.forget_unused_of(account_id)
        if changed:
            await self._audit.record(
                "account_deactivated",
                account_id=account_id,
                device_id=who.device_id,
                address=who.address,
                by=who.account_id,
            )
        refreshed = await self._accounts.by_id(account_id)
        assert refreshed is not None
        return refreshed
