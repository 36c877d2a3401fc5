"""Operator tasks over the API: the audit log and the crisis resources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.gateway.model.principal import Principal
from services.gateway.model.records import AuditRecord
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.crisis import CrisisResources
from shared.errors import ForbiddenError


def operators_only(who: Principal) -> None:
    if who.role != "operator":
        raise ForbiddenError("operators only")


class Operations:
    def __init__(self, audit: AuditLog, crisis: CrisisResources) -> None:
        self._audit = audit
        self._crisis = crisis

    async def audit_page(
        self, who: Principal, before: tuple[datetime, str] | None, limit: int
    ) -> tuple[list[AuditRecord], AuditRecord | None]:
        """A page, newest first, and the last entry of it when there are more."""
        operators_only(who)
        found = await self._audit.page(before, limit + 1)
        return found[:limit], (found[limit - 1] if len(found) > limit else None)

    async def crisis_resources(self) -> list[dict[str, Any]]:
        return await self._crisis.current()

    async def set_crisis_resources(self, who: Principal, resources: list[dict[str, Any]]) -> None:
        operators_only(who)
        await self._crisis.replace(resources)
        # What people in crisis are shown is safety-critical: always know who changed it.
        await self._audit.record(
            "crisis_resources_changed",
            account_id=who.account_id,
            device_id=who.device_id,
            address=who.address,
            count=len(resources),
        )
