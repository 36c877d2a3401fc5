"""Transactional-outbox lite: events are written before they are published, then relayed.

A crash or broker outage between the domain write and the publish leaves the event in
`outbox`; the relay loop publishes it later. Event ids are deterministic, so a second
publish of the same event dedupes downstream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import structlog
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from shared.bus import Bus
from shared.errors import UnavailableError, UnroutableError
from shared.events import EVENT_ADAPTER, Event, utcnow
from shared.logging import correlation
from shared.mongo import Document

log = structlog.get_logger(__name__)

RELAY_EVERY = 2.0


class Outbox:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        bus: Bus,
        on_emit: Callable[[Event], None] | None = None,
    ) -> None:
        self._c = db["outbox"]
        self._bus = bus
        self._on_emit = on_emit

    async def emit(self, event: Event) -> None:
        """Record, then try to publish at once; the relay retries what did not go out.

        `on_emit` hears the event first: this replica's caches forget what it changed before
        any other replica could hear of it."""
        if self._on_emit is not None:
            self._on_emit(event)
        body = EVENT_ADAPTER.dump_json(event).decode()
        await self._c.update_one(
            {"_id": event.event_id},
            {"$setOnInsert": {"type": event.type, "body": body, "created_at": utcnow()}},
            upsert=True,
        )
        await self._publish(event)

    async def _publish(self, event: Event) -> bool:
        try:
            await self._bus.publish_event(event)
        except (UnavailableError, UnroutableError):
            log.warning("outbox_publish_deferred", event_id=event.event_id, type=event.type)
            return False
        await self._c.delete_one({"_id": event.event_id})
        return True

    async def relay_once(self) -> int:
        cutoff = utcnow() - timedelta(seconds=RELAY_EVERY)
        sent = 0
        async for doc in self._c.find({"created_at": {"$lt": cutoff}}).limit(500):
            event = EVENT_ADAPTER.validate_json(doc["body"])
            with correlation(event.correlation_id):
                sent += await self._publish(event)
        return sent

    async def run(self) -> None:
        while True:
            await asyncio.sleep(RELAY_EVERY)
            if not self._bus.ready:
                continue
            try:
                await self.relay_once()
            except PyMongoError as error:
                log.warning("outbox_relay_failed", reason=type(error).__name__)
            except Exception:  # the relay must outlive one bad record
                log.exception("outbox_relay_error")
