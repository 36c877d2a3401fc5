"""The bus probe: an operator-triggered event every consumer records, proving the path."""

from __future__ import annotations

import structlog
from pymongo.asynchronous.database import AsyncDatabase

from shared.events import OpsProbed, utcnow
from shared.mongo import Document

log = structlog.get_logger(__name__)

PROBES = "ops_probes"


async def record_probe(db: AsyncDatabase[Document], event: OpsProbed) -> None:
    """Idempotent on event_id: a redelivered probe is recorded once."""
    await db[PROBES].update_one(
        {"_id": event.event_id},
        {
            "$setOnInsert": {
                "probe_id": event.data.probe_id,
                "correlation_id": event.correlation_id,
                "occurred_at": event.occurred_at,
                "received_at": utcnow(),
            }
        },
        upsert=True,
    )
    log.info("probe_recorded", probe_id=event.data.probe_id)
