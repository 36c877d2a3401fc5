"""Attachments (API.md "Attachments"): who may upload and download, and what follows messages.

Uploads obey the rules of sending (a participant of an active, unpaused conversation with
consent), a rate limit and a per-account quota; downloads are for participants only, and a
pending upload only for its uploader — anyone else gets 404. A send ties its uploads to the
message before the message is queued; deleting the message, its retention and the account
deletion remove them; a sweep removes uploads no message referenced in time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import structlog

from services.gateway.model.principal import Principal
from services.gateway.model.records import Relationship
from services.gateway.security.limits import Limits
from services.gateway.settings import GatewaySettings
from services.gateway.stores.attachments import AttachmentStore, Blob, new_attachment_id
from services.gateway.stores.directory import SendDirectory
from services.gateway.stores.relationships import RelationshipRepository
from services.gateway.usecases.agreement import Agreement
from services.gateway.usecases.send import check_status
from shared.errors import (
    NotFoundError,
    PayloadTooLargeError,
    QuotaExceededError,
    UnprocessableError,
)
from shared.events import utcnow

log = structlog.get_logger(__name__)

MAX_PER_MESSAGE = 10
SWEEP_BATCH = 500  # conversations per query of the retention sweep


class Attachments:
    def __init__(
        self,
        *,
        store: AttachmentStore,
        relationships: RelationshipRepository,
        directory: SendDirectory,
        limits: Limits,
        agreement: Agreement,
        settings: GatewaySettings,
    ) -> None:
        self._store = store
        self._relationships = relationships
        self._directory = directory
        self._limits = limits
        self._agreement = agreement
        self._max = settings.attachment_max_bytes
        self._quota = settings.attachment_quota_bytes
        self._grace = timedelta(seconds=settings.attachment_grace_seconds)
        self._day = timedelta(seconds=settings.retention_day_seconds)

    async def _participant(self, who: Principal, conversation_id: str) -> Relationship:
        relationship = await self._directory.relationship(conversation_id)
        if relationship is None or who.account_id not in relationship.participants:
            raise NotFoundError("no such conversation")  # never reveal that it exists
        return relationship

    async def admit_upload(self, who: Principal, conversation_id: str, length: int) -> None:
        """Every check that needs no body: the caller learns its answer before sending bytes.
        Last, ``length`` bytes of the quota are reserved atomically (parallel uploads cannot
        together pass it); ``upload`` must follow, and gives them back if it fails."""
        if length > self._max:
            raise PayloadTooLargeError(f"an attachment is at most {self._max} bytes")
        relationship = await self._participant(who, conversation_id)
        check_status(relationship)
        await self._agreement.check_consent(who)
        await self._limits.check("attachments", who.account_id, utcnow())
        if not await self._store.reserve(who.account_id, length, self._quota):
            raise QuotaExceededError("your stored attachments have reached this server's quota")

    async def upload(
        self, who: Principal, conversation_id: str, source: AsyncIterator[bytes], length: int
    ) -> tuple[str, int]:
        """Store the stream (admit_upload reserved ``length`` first); the new id and size."""
        attachment_id = new_attachment_id()
        size = await self._store.upload(
            attachment_id, conversation_id, who.account_id, source, utcnow(), reserved=length
        )
        return attachment_id, size

    async def open(self, who: Principal, conversation_id: str, attachment_id: str) -> Blob:
        """The blob, for a participant; 404 for anyone else (then ``read`` streams it)."""
        await self._participant(who, conversation_id)
        blob = await self._store.find(attachment_id)
        if blob is None or blob.conversation_id != conversation_id:
            raise NotFoundError("no such attachment")
        if blob.state == "uploading" or (blob.state != "sent" and blob.uploader != who.account_id):
            raise NotFoundError("no such attachment")
        return blob

    def read(self, blob: Blob, start: int, end: int) -> AsyncIterator[bytes]:
        return self._store.read(blob.attachment_id, start, end)

    async def claim(
        self,
        who: Principal,
        relationship: Relationship,
        message_id: str,
        raw_ids: object,
    ) -> list[str]:
        """Tie the listed uploads to the message about to be queued; 422 unless each one is
        this sender's, in this conversation, and not yet used."""
        ids = parse_ids(raw_ids)
        if not ids:
            return ids
        ok = await self._store.claim(
            ids, relationship.conversation_id, who.account_id, message_id, utcnow()
        )
        if not ok:
            raise UnprocessableError(
                "each attachment must be your own unused upload to this conversation",
                field="attachment_ids",
            )
        return ids

    async def release(self, ids: list[str], message_id: str) -> None:
        """The message was not queued: its uploads can be used again."""
        if ids:
            await self._store.release(ids, message_id)

    async def message_deleted(self, conversation_id: str, message_id: str) -> int:
        return await self._store.remove_message(conversation_id, message_id)

    async def account_deleted(self, account_id: str) -> int:
        return await self._store.remove_account(account_id)

    async def sweep(self, now: datetime | None = None) -> int:
        """Remove unreferenced uploads past the grace period and blobs past retention."""
        moment = now or utcnow()
        removed = await self._store.remove_stale(moment - self._grace, moment)
        return removed + await self.expire(moment)

    async def expire(self, now: datetime) -> int:
        """Sent blobs past their conversation's retention as it is NOW, like their messages
        (messaging re-applies a retention change to the messages already stored): computed
        here from the relationship, the authority, so a change needs no re-stamping and no
        send racing a change can keep an old expiry."""
        removed, batch = 0, []
        async for conversation_id in self._store.sent_conversations():
            batch.append(conversation_id)
            if len(batch) == SWEEP_BATCH:
                removed += await self._expire_batch(batch, now)
                batch = []
        return removed + (await self._expire_batch(batch, now) if batch else 0)

    async def _expire_batch(self, conversation_ids: list[str], now: datetime) -> int:
        """One batch of the sweep: its conversations grouped by retention, one removal each."""
        by_days: dict[int, list[str]] = {}
        retention = await self._relationships.retention_of(conversation_ids)
        for conversation_id, days in retention.items():
            if days is not None:
                by_days.setdefault(days, []).append(conversation_id)
        removed = 0
        for days, ids in sorted(by_days.items()):
            removed += await self._store.remove_sent_before(ids, now - days * self._day)
        return removed

    async def exported(self, account_id: str) -> list[Blob]:
        return await self._store.for_account(account_id)


def parse_ids(raw: object) -> list[str]:
    """`attachment_ids`: absent, or a list of at most 10 distinct strings."""
    if raw is None:
        return []
    if (
        not isinstance(raw, list)
        or len(raw) > MAX_PER_MESSAGE
        or not all(isinstance(i, str) and 0 < len(i) <= 64 for i in raw)
        or len(set(raw)) != len(raw)
    ):
        raise UnprocessableError(
            "attachment_ids is a list of at most 10 distinct ids", field="attachment_ids"
        )
    return list(raw)
