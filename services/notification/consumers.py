"""AMQP consumers of the notification service: events in, deliveries out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

import structlog
from aiohttp import web
from pymongo.errors import PyMongoError

from services.notification.availability.deferral import OutsideHours, urgent_bypass_of
from services.notification.availability.notices import AwayNotices
from services.notification.availability.repository import AvailabilityRepository
from services.notification.availability.service import AvailabilityService
from services.notification.personal import PersonalData
from services.notification.push.engine import Clock
from services.notification.push.repository import PushRepository
from services.notification.push.wiring import deferrals_key, start_push
from services.notification.repository import NotificationRepository
from services.notification.service import Deliver, NotificationService
from services.notification.settings import NotificationSettings
from shared.bus import Bus
from shared.consumers import EventHandler, consume_events
from shared.deliveries import DeviceDelivery, publish_delivery
from shared.errors import HavenError
from shared.events import OpsProbed, utcnow
from shared.lifecycle import StartHook, bus_key, mongo_key
from shared.probes import record_probe
from shared.rpc import RpcHandler, rpc_queue
from shared.rpc_server import serve_rpc

log = structlog.get_logger(__name__)

SERVICE = "notification"


def deliver_over(bus: Bus) -> Deliver:
    async def deliver(delivery: DeviceDelivery) -> bool:
        return await publish_delivery(bus, delivery)

    return deliver


def handlers(service: NotificationService) -> dict[str, EventHandler]:
    """What notification consumes: its queue is bound to exactly these event types."""
    return {
        "message.stored": service.message_stored,
        "message.deleted": service.message_deleted,
        "message.rejected": service.message_rejected,
        "receipt.read": service.receipt_read,
        "relationship.created": service.relationship_created,
        "relationship.ended": service.relationship_ended,
        "relationship.status_changed": service.relationship_status_changed,
        "retention.changed": service.retention_changed,
        "urgent.attempted": service.urgent_attempted,
        "device.added": service.device_added,
        "device.updated": service.device_added,
        "device.removed": service.device_removed,
        "device.backup_changed": service.backup_changed,
        "device.expiring": service.device_expiring,
        "account.password_reset": service.password_reset,
        "delivery.failed": service.delivery_failed,
    }


def chained(*maps: Mapping[str, EventHandler]) -> dict[str, EventHandler]:
    """One handler per event type, running each map's handler for it in order (the service's
    first, then the push engine's); each is idempotent, so a retry may run them all again."""
    merged: dict[str, list[EventHandler]] = {}
    for handler_map in maps:
        for event_type, handler in handler_map.items():
            merged.setdefault(event_type, []).append(handler)
    return {event_type: _in_order(chain) for event_type, chain in merged.items()}


def _in_order(chain: list[EventHandler]) -> EventHandler:
    if len(chain) == 1:
        return chain[0]

    async def run(event: Any) -> None:
        for handler in chain:
            await handler(event)

    return run


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


def start_consumers(settings: NotificationSettings, *, clock: Clock = utcnow) -> StartHook:
    async def start(app: web.Application) -> None:
        bus, db = app[bus_key], app[mongo_key].db
        repository = NotificationRepository(db)
        availability_repository = AvailabilityRepository(db)
        availability = AvailabilityService(repository=availability_repository, clock=clock)
        app[deferrals_key]["coach_hours"] = OutsideHours(
            availability=availability,
            relationships=repository,
            urgent_bypass=urgent_bypass_of(PushRepository(db).preferences),
        )
        push = await start_push(app, settings, clock=clock)
        service = NotificationService(
            repository=repository,
            deliver=deliver_over(bus),
            announce_window=timedelta(seconds=settings.devices_changed_window_seconds),
            away_notices=AwayNotices(
                availability=availability,
                notices=availability_repository,
                relationships=repository,
                clock=clock,
            ),
            on_unacknowledged=push.engine.owed,
            notify=push.engine.notice,
        )
        app[background_key].append(
            asyncio.create_task(announce_forever(service), name="devices-changed-announcer")
        )
        app[background_key].extend(asyncio.create_task(loop) for loop in push.loops)

        async def on_probe(event: OpsProbed) -> None:
            await record_probe(db, event)

        personal = PersonalData(db)
        erasure = {"account.deleted": personal.account_deleted}
        events = chained(handlers(service), push.handlers, erasure)
        await consume_events(bus, SERVICE, {"ops.probed": on_probe, **events})
        # Every RPC route notification answers (the gateway's reads and writes of its data).
        rpc_routes: dict[str, RpcHandler] = {
            **availability.routes(),
            **push.routes,
            **personal.routes(),
        }
        await serve_rpc(bus, rpc_queue(bus.topology, SERVICE), rpc_routes)

    return start
