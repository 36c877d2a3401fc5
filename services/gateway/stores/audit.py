"""The security audit log: metadata only, never passwords, tokens, keys or content."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from pymongo.asynchronous.database import AsyncDatabase

from services.gateway.model.records import AuditRecord, new_id
from shared.events import utcnow
from shared.logging import current_correlation_id
from shared.mongo import Document

log = structlog.get_logger(__name__)


class AuditLog:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["audit"]

    async def record(
        self,
        event_type: str,
        *,
        account_id: str | None = None,
        device_id: str | None = None,
        address: str | None = None,
        about: Sequence[str] = (),
        **details: Any,
    ) -> None:
        """One security event, with the request's correlation id. `about`: other accounts the
        event concerns (the client whose conversation a coach paused): it is in their copy."""
        entry = AuditRecord(
            event_id=new_id(),
            type=event_type,
            at=utcnow(),
            account_id=account_id,
            device_id=device_id,
            address=address,
            correlation_id=current_correlation_id(),
            details=details,
        )
        doc = entry.to_doc()
        if about:
            doc["about"] = list(about)
        await self._c.insert_one(doc)
        log.info("audit", type=event_type, account_id=account_id, device_id=device_id)

    async def page(self, before: tuple[datetime, str] | None, limit: int) -> list[AuditRecord]:
        query: dict[str, Any] = {}
        if before is not None:
            at, event_id = before
            query = {"$or": [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": event_id}}]}
        cursor = self._c.find(query).sort([("at", -1), ("_id", -1)]).limit(limit)
        return [AuditRecord.from_doc(doc) async for doc in cursor]
