"""The messaging agreement as every client send checks it, from memory.

The current version and each account's latest consent are cached; this replica's own writes
drop them at once, and every replica drops them when `agreement.changed` arrives (published
by the gateway that recorded the change: `account_id` set for one account's acceptance or
withdrawal, unset for a newly published version, which drops everything). Events naming an
`account_id` of the `account.*` family (say, a deletion) drop that account's consent too, and
everything goes when the invalidation queue is re-declared (stores/invalidation.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.gateway.stores.agreements import (
    AgreementRepository,
    AgreementVersion,
    ConsentKind,
    ConsentRecord,
)
from services.gateway.stores.directory import TTL_SECONDS, VersionedCache
from shared.mongo import Document

CURRENT = "current"


class CachedAgreementRepository(AgreementRepository):
    def __init__(self, db: AsyncDatabase[Document], ttl: float = TTL_SECONDS) -> None:
        super().__init__(db)
        # One-element tuples: "none published" and "never consented" are answers worth keeping.
        self._current: VersionedCache[str, tuple[AgreementVersion | None]] = VersionedCache(ttl)
        self._latest: VersionedCache[str, tuple[ConsentRecord | None]] = VersionedCache(ttl)

    async def current(self) -> AgreementVersion | None:
        async def load() -> tuple[AgreementVersion | None]:
            return (await AgreementRepository.current(self),)

        found = await self._current.get(CURRENT, load)
        return found[0] if found else None

    async def latest_consent(self, account_id: str) -> ConsentRecord | None:
        async def load() -> tuple[ConsentRecord | None]:
            return (await AgreementRepository.latest_consent(self, account_id),)

        found = await self._latest.get(account_id, load)
        return found[0] if found else None

    async def publish(self, agreement: AgreementVersion) -> None:
        try:
            await super().publish(agreement)
        finally:
            self.forget_all()

    async def record(self, account_id: str, kind: ConsentKind, version: str, at: datetime) -> None:
        try:
            await super().record(account_id, kind, version, at)
        finally:
            self._latest.invalidate(account_id)

    def forget_event(self, event_type: str, data: Mapping[str, Any]) -> None:
        account_id = data.get("account_id")
        if isinstance(account_id, str):
            self._latest.invalidate(account_id)
        elif event_type == "agreement.changed":
            self.forget_all()

    def forget_all(self) -> None:
        self._current.clear()
        self._latest.clear()
