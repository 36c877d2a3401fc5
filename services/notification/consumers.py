"""AMQP consumers of the notification service: events in, deliveries out."""

from __future__ import annotations

from aiohttp import web

from services.notification.repository import NotificationRepository
from services.notification.service import Deliver, NotificationService
from shared.bus import Bus
from shared.consumers import EventHandler, event_dispatcher
from shared.deliveries import DeviceDelivery, publish_delivery
from shared.events import OpsProbed
from shared.lifecycle import StartHook, bus_key, mongo_key
from shared.probes import record_probe
from shared.settings import NotificationSettings


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


def start_consumers(settings: NotificationSettings) -> StartHook:
    async def start(app: web.Application) -> None:
        bus, db = app[bus_key], app[mongo_key].db
        service = NotificationService(NotificationRepository(db), deliver_over(bus))

        async def on_probe(event: OpsProbed) -> None:
            await record_probe(db, event)

        await bus.consume(
            bus.topology.events_queue("notification"),
            event_dispatcher({"ops.probed": on_probe, **handlers(service)}),
        )

    return start
