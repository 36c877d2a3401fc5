"""AMQP consumers of the messaging service."""

from __future__ import annotations

from aiohttp import web

from shared.consumers import event_dispatcher
from shared.events import OpsProbed
from shared.lifecycle import StartHook, bus_key, mongo_key
from shared.probes import record_probe
from shared.settings import MessagingSettings


def start_consumers(settings: MessagingSettings) -> StartHook:
    async def start(app: web.Application) -> None:
        bus, db = app[bus_key], app[mongo_key].db

        async def on_probe(event: OpsProbed) -> None:
            await record_probe(db, event)

        await bus.consume(
            bus.topology.events_queue("messaging"),
            event_dispatcher({"ops.probed": on_probe}),
        )

    return start
