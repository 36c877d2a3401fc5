"""Operator-only routes on the gateway's internal ops port."""

from __future__ import annotations

import uuid

import structlog
from aiohttp import web

from shared.events import OpsProbed, ProbeData
from shared.lifecycle import bus_key, readiness
from shared.ops import ops_app

log = structlog.get_logger(__name__)


def create_ops_app(main: web.Application) -> web.Application:
    """Health and metrics of the public app, plus the bus probe."""

    async def check() -> dict[str, bool]:
        return await readiness(main)

    async def probe(_: web.Request) -> web.Response:
        probe_id = uuid.uuid4().hex
        event = OpsProbed.create(ProbeData(probe_id=probe_id))
        await main[bus_key].publish_event(event)
        log.info("probe_published", probe_id=probe_id)
        return web.json_response({"probe_id": probe_id, "event_id": event.event_id}, status=202)

    app = ops_app(check)
    app.router.add_post("/ops/probe", probe)
    return app
