"""The messaging agreement: operators publish versions, clients accept or withdraw, and a
client without the current version cannot send (reading stays possible)."""

from __future__ import annotations

from services.gateway import copy
from services.gateway.model.principal import Principal
from services.gateway.model.schemas import AgreementOut
from services.gateway.stores.agreements import (
    AgreementRepository,
    AgreementVersion,
    AgreementVersionExistsError,
)
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.outbox import Outbox
from services.gateway.usecases.operations import operators_only
from shared.errors import ConflictError, ConsentRequiredError, NotFoundError
from shared.events import AgreementChanged, AgreementData, utcnow


class Agreement:
    def __init__(
        self, agreements: AgreementRepository, audit: AuditLog, outbox: Outbox | None = None
    ) -> None:
        self._agreements = agreements
        self._audit = audit
        self._outbox = outbox

    async def _changed(self, version: str, account_id: str | None = None) -> None:
        """Every gateway replica's consent cache hears of it (stores/consents.py)."""
        if self._outbox is not None:
            data = AgreementData(account_id=account_id, version=version)
            await self._outbox.emit(AgreementChanged.create(data))

    async def publish(self, who: Principal, version: str, text: str) -> AgreementOut:
        """Versions are immutable: the same text again is harmless, a different one is 409."""
        operators_only(who)
        published = AgreementVersion(version, text, utcnow(), who.account_id)
        try:
            await self._agreements.publish(published)
        except AgreementVersionExistsError:
            existing = await self._agreements.version(version)
            if existing is None or existing.text != text:
                raise ConflictError(copy.AGREEMENT_VERSION_TAKEN) from None
            published = existing
        else:
            await self._changed(version)
            await self._audit.record(
                "agreement_published", account_id=who.account_id, version=version
            )
        return await self._out(who, published)

    async def current(self, who: Principal) -> AgreementOut:
        agreement = await self._agreements.current()
        if agreement is None:
            raise NotFoundError(copy.NO_AGREEMENT)
        return await self._out(who, agreement)

    async def accept(self, who: Principal, version: str) -> AgreementOut:
        agreement = await self._agreements.current()
        if agreement is None or agreement.version != version:
            raise ConflictError(copy.AGREEMENT_NEWER)
        if not await self.has_accepted_current(who.account_id, agreement):
            await self._agreements.record(who.account_id, "accepted", version, utcnow())
            await self._changed(version, who.account_id)
        return await self._out(who, agreement)

    async def withdraw(self, who: Principal) -> None:
        """Idempotent: only a standing acceptance is withdrawn (and recorded)."""
        latest = await self._agreements.latest_consent(who.account_id)
        if latest is not None and latest.kind == "accepted":
            await self._agreements.record(who.account_id, "withdrawn", latest.version, utcnow())
            await self._changed(latest.version, who.account_id)

    async def check_consent(self, who: Principal) -> None:
        """Per send: a client needs the current version (none published: none needed)."""
        if who.role != "client":
            return
        agreement = await self._agreements.current()
        if agreement is None or await self.has_accepted_current(who.account_id, agreement):
            return
        raise ConsentRequiredError(copy.CONSENT_REQUIRED, version=agreement.version)

    async def has_accepted_current(self, account_id: str, agreement: AgreementVersion) -> bool:
        latest = await self._agreements.latest_consent(account_id)
        return (
            latest is not None
            and latest.kind == "accepted"
            and (latest.version == agreement.version)
        )

    async def _out(self, who: Principal, agreement: AgreementVersion) -> AgreementOut:
        return AgreementOut(
            version=agreement.version,
            text=agreement.text,
            published_at=agreement.published_at,
            accepted=await self.has_accepted_current(who.account_id, agreement),
        )
