"""AMQP consumers of the notification service: events in, deliveries out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import structlog
from aiohttp import web
from pymongo.errors import PyMongoError

from services.notification.repository import NotificationRepository
from services.notification.service import Deliver, NotificationService
from shared.bus import Bus
from shared.consumers import EventHandler, event_dispatcher
from shared.deliveries import DeviceDelivery, publish_delivery
from shared.errors import HavenError
from shared.events import OpsProbed
from shared.lifecycle import StartHook, bus_key, mongo_key
from shared.probes import record_probe
from shared.settings import NotificationSettings

log = structlog.get_logger(__name__)


def deliver_over(bus: Bus) -> Deliver:
    async def deliver(delivery: DeviceDelivery) -> bool:
        return await publish_delivery(bus, delivery)

    return deliver


def handlers(service: NotificationService) -> dict[str, EventHandler]:
    return {
        "message.stored": service.message_stored,
        "message.deleted": service.message_deleted,
        "message.rejected": service.message_rejected,
        "receipt.read": service.receipt_read,
        "relationship.created": service.relationship_created,
        "relationship.ended": service.relationship_ended,
        "device.added": service.device_added,
        "device.updated": service.device_added,
        "device.removed": service.device_removed,
        "delivery.failed": service.delivery_failed,
    }


ANNOUNCE_SWEEP_SECONDS = 1.0
background_key = web.AppKey("background", list[asyncio.Task[None]])


async def announce_forever(service: NotificationService) -> None:
    """Send the debounced `devices_changed` announcements once their window has passed."""
    while True:
        try:
            await service.announce_due()
        except (PyMongoError, HavenError) as error:  # outage: the next round tries again
            log.warning("announce_failed", reason=type(error).__name__)
        await asyncio.sleep(ANNOUNCE_SWEEP_SECONDS)


async def background_ctx(app: web.Application) -> AsyncIterator[None]:
    """Tasks started once the service is ready; cancelled and awaited on shutdown."""
    yield
    for task in app[background_key]:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def start_consumers(settings: NotificationSettings) -> StartHook:
    async def start(app: web.Application) -> None:
        bus, db = app[bus_key], app[mongo_key].db
        service = NotificationService(
            NotificationRepository(db),
            deliver_over(bus),
            timedelta(seconds=settings.devices_changed_window_seconds),
        )
        app[background_key].append(
            asyncio.create_task(announce_forever(service), name="devices-changed-announcer")
        )

        async def on_probe(event: OpsProbed) -> None:
            await record_probe(db, event)

        await bus.consume(
            bus.topology.events_queue("notification"),
            event_dispatcher({"ops.probed": on_probe, **handlers(service)}),
        )

    return start
