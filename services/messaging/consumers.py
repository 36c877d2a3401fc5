"""AMQP consumers of the messaging service: events, the K command shards, and its RPCs."""

from __future__ import annotations

import json
from collections.abc import Sequence

import structlog
from aiohttp import web

from services.messaging.delivery import Announcer, DeliverBatch, PublishEvents
from services.messaging.erasure import Erasure, ErasureRepository
from services.messaging.pipeline import DeadLetter, ShardPipeline
from services.messaging.queries import Queries
from services.messaging.repository import MessagingRepository
from services.messaging.retention import Retention, RetentionRepository
from services.messaging.service import MessagingService, OutEvent, Publish
from services.messaging.settings import MessagingSettings
from shared.bus import Bus
from shared.consumers import consume_events
from shared.deliveries import DeviceDelivery, publish_deliveries
from shared.events import MessageStored, OpsProbed, derive_event_id, encode_events
from shared.lifecycle import StartHook, bus_key, mongo_key
from shared.logging import correlation
from shared.probes import record_probe
from shared.rpc import rpc_queue
from shared.rpc_server import serve_rpc

log = structlog.get_logger(__name__)

SERVICE = "messaging"
# Per shard: enough in flight to form batches under load, while one shard stays one consumer.
COMMAND_PREFETCH = 128
MAX_BATCH = 128


def publish_over(bus: Bus) -> Publish:
    async def publish(event: OutEvent) -> None:
        # The event's own correlation id, not the batch's: it goes into the AMQP property.
        with correlation(event.correlation_id):
            await bus.publish_event(event)

    return publish


def deliver_over(bus: Bus) -> DeliverBatch:
    async def deliver(device_id: str, deliveries: Sequence[DeviceDelivery]) -> list[bool]:
        return await publish_deliveries(bus, device_id, deliveries)

    return deliver


def publish_events_over(bus: Bus) -> PublishEvents:
    """A batch's events of one type in one confirmed AMQP message (not mandatory: an event
    nobody subscribed to is nobody's loss), under the first one's correlation id."""

    async def publish(events: Sequence[MessageStored]) -> None:
        if not events:
            return
        kind = events[0].kind()
        ids = [event.event_id for event in events]
        message_id = ids[0] if len(ids) == 1 else derive_event_id("batch", ",".join(ids))
        with correlation(events[0].correlation_id):
            await bus.publish(
                bus.topology.events,
                kind,
                encode_events(events),
                message_id=message_id,
                message_type=kind,
                mandatory=False,
            )

    return publish


def dead_letter_over(bus: Bus) -> DeadLetter:
    """One command of a batch to the dead letters by itself, as a rejected lone command goes
    there, with why (`x-haven-reason`: field names or a failure, never a value)."""

    async def dead_letter(body: bytes, reason: str) -> None:
        kind, command_id = _identity(body)
        await bus.publish(
            bus.topology.dead,
            kind,
            body,
            message_id=command_id,
            message_type=kind,
            headers={"x-haven-reason": reason},
        )
        log.warning("command_dead_lettered", type=kind, reason=reason)

    return dead_letter


def _identity(body: bytes) -> tuple[str, str]:
    """A command's type and id as far as they can be read: the dead letter's properties."""
    try:
        item = json.loads(body)
    except ValueError:
        item = None
    fields = item if isinstance(item, dict) else {}
    kind, command_id = fields.get("type"), fields.get("command_id")
    return (
        kind if isinstance(kind, str) else "command.unreadable",
        command_id if isinstance(command_id, str) else derive_event_id("dead", body.hex()),
    )


def start_consumers(settings: MessagingSettings) -> StartHook:
    async def start(app: web.Application) -> None:
        bus, db = app[bus_key], app[mongo_key].db
        repo = MessagingRepository(db)
        retention = Retention(
            RetentionRepository(db=db, day_seconds=settings.retention_day_seconds)
        )
        erasure = Erasure(repository=ErasureRepository(db), publish=publish_over(bus))
        service = MessagingService(
            repo=repo,
            publish=publish_over(bus),
            stamp=retention.stamp,
            settle=retention.settle,
            erased=erasure.erased_senders,
            announce=Announcer(deliver=deliver_over(bus), publish_events=publish_events_over(bus)),
        )

        async def on_probe(event: OpsProbed) -> None:
            await record_probe(db, event)

        await consume_events(
            bus,
            SERVICE,
            {
                "ops.probed": on_probe,
                "retention.changed": retention.changed,
                "account.deleted": erasure.account_deleted,
            },
        )
        # One pipeline for all of this process's shards: a batch takes whatever any shard has
        # queued, so 20 quiet conversations cost one batch's store round trips, not twenty.
        pipeline = ShardPipeline(
            handle=service.handle,
            max_batch=MAX_BATCH,
            stopping=lambda: bus.closing,
            given_up=service.given_up,
            refused=service.refused,
            dead_letter=dead_letter_over(bus),
        )
        for shard in range(settings.command_shards):
            await bus.consume_in_order(
                bus.topology.command_queue(shard), pipeline.submit, prefetch=COMMAND_PREFETCH
            )
        await serve_rpc(bus, rpc_queue(bus.topology, SERVICE), Queries(repo).routes())

    return start
