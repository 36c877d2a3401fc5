"""Every gateway replica hears the events that change what it caches: `device.*` (its device
cache and the send directory), `relationship.*` and `account.*` (the send directory) and
`agreement.*` (consents), so each forgets at once; see services/gateway/stores/directory.py and
services/gateway/stores/consents.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

import structlog

from services.gateway.stores.consents import CachedAgreementRepository
from services.gateway.stores.devicecache import DeviceCache
from services.gateway.stores.directory import SendDirectory
from shared.bus import Bus, Delivery
from shared.events import DeviceRemoved, DeviceSessionEnded, decode_event
from shared.exclusive import exclusive_queue
from shared.supervise import Backoff, supervised

log = structlog.get_logger(__name__)

RETRY = Backoff(first=1.0, maximum=1.0)
# Whole families, so event types added later (relationship.paused, ...) invalidate too.
BINDINGS = ("device.*", "relationship.*", "account.*", "agreement.*")


class DeviceInvalidation:
    """A private queue bound to BINDINGS on `haven.events`, re-declared after loss."""

    def __init__(
        self,
        bus: Bus,
        cache: DeviceCache,
        directory: SendDirectory,
        agreements: CachedAgreementRepository,
    ) -> None:
        self._bus = bus
        self._cache = cache
        self._directory = directory
        self._agreements = agreements
        self._queue = exclusive_queue(
            bus, f"gateway.invalidation.{uuid.uuid4().hex[:12]}", self._on_event
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(
            supervised("device_invalidation", self._hold_queue, retry=RETRY),
            name="device-invalidation",
        )

    async def _hold_queue(self) -> None:
        """One life of the queue: declare and bind, then wait until it is lost."""
        await self._queue.open()
        for key in BINDINGS:
            await self._queue.bind(self._bus.topology.events, key)
        # Whatever changed while no queue was bound was not heard: start from the database.
        self._cache.clear()
        self._directory.clear()
        self._agreements.forget_all()
        await self._queue.wait_closed()

    async def _on_event(self, delivery: Delivery) -> None:
        data = _data_of(delivery.body)
        self._directory.forget_event(data)
        self._agreements.forget_event(delivery.routing_key, data)
        if delivery.routing_key in ("device.removed", "device.session_ended"):
            event = decode_event(delivery.body)
            if isinstance(event, DeviceRemoved | DeviceSessionEnded):
                self._cache.invalidate(event.data.device_id)
                log.debug("device_cache_invalidated", device_id=event.data.device_id)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._queue.close()


def _data_of(body: bytes) -> dict[str, object]:
    """An event's `data`, of any type, known here or not; empty if it is not one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    data = parsed.get("data") if isinstance(parsed, dict) else None
    return data if isinstance(data, dict) else {}
