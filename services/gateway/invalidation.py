"""Every gateway replica hears `device.removed` and `device.session_ended`, so its device
cache forgets at once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import structlog

from services.gateway.devicecache import DeviceCache
from shared.bus import Bus, Delivery
from shared.events import DeviceRemoved, DeviceSessionEnded, decode_event
from shared.exclusive import exclusive_queue
from shared.supervise import Backoff, supervised

log = structlog.get_logger(__name__)

RETRY = Backoff(first=1.0, maximum=1.0)


class DeviceInvalidation:
    """A private queue bound to `device.removed` on `haven.events`, re-declared after loss."""

    def __init__(self, bus: Bus, cache: DeviceCache) -> None:
        self._bus = bus
        self._cache = cache
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
        for key in ("device.removed", "device.session_ended"):
            await self._queue.bind(self._bus.topology.events, key)
        await self._queue.wait_closed()

    async def _on_event(self, delivery: Delivery) -> None:
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
