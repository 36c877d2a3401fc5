"""Operator accounts: the bootstrap operator at start-up and `haven-admin create-operator`."""

from __future__ import annotations

import re

import structlog

from services.gateway.model.records import Account, new_id
from services.gateway.security.passwords import PasswordHasher
from services.gateway.stores.accounts import AccountRepository, AlreadyExistsError
from services.gateway.stores.audit import AuditLog
from shared.events import utcnow

log = structlog.get_logger(__name__)

HANDLE = re.compile(r"[a-z0-9_.-]{3,32}")


class Operators:
    def __init__(
        self, accounts: AccountRepository, hasher: PasswordHasher, audit: AuditLog
    ) -> None:
        self._accounts = accounts
        self._hasher = hasher
        self._audit = audit

    async def ensure_bootstrap(self, handle: str | None, password: str | None) -> bool:
        """Create the first operator from configuration when no operator exists yet."""
        if not handle or not password or await self._accounts.any_operator():
            return False
        return await self.create(handle, password)

    async def create(self, handle: str, password: str) -> bool:
        handle = handle.lower()
        if not HANDLE.fullmatch(handle):
            log.error("operator_handle_invalid", rule="3-32 of [a-z0-9_.-]")
            return False
        account = Account(
            account_id=new_id(),
            handle=handle,
            role="operator",
            display_name=handle,
            password_hash=await self._hasher.hash(password),
            status="active",
            created_at=utcnow(),
        )
        try:
            await self._accounts.insert(account)
        except AlreadyExistsError:
            log.warning("operator_handle_taken", handle=handle)
            return False
        await self._audit.record("operator_created", account_id=account.account_id)
        return True
