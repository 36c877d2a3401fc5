"""Resource lifecycles shared by the services: Mongo, the bus, and ordered start-up."""

from __future__ import annotations

import asyncio
import contextlib
import linecache
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware
from pymongo.errors import PyMongoError

from shared.bus import Bus
from shared.mongo import IndexSpec, Mongo, TtlSpec
from shared.settings import CommonSettings
from shared.supervise import Backoff
from shared.topology import Topology

log = structlog.get_logger(__name__)

START_RETRY = Backoff(first=0.5, maximum=5.0)  # until the store answers at start-up

mongo_key = web.AppKey("mongo", Mongo)
bus_key = web.AppKey("bus", Bus)
started_key = web.AppKey("started", asyncio.Event)
# Extra readiness conditions a service adds (name -> is it ready now?).
checks_key = web.AppKey("checks", dict[str, Callable[[], bool]])

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]
StartHook = Callable[[web.Application], Awaitable[None]]


def mongo_ctx(settings: CommonSettings, service: str) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        mongo = Mongo(str(settings.mongo_url), settings.database_name(service))
        # The driver keeps the stack that made its client (to name unclosed clients), and
        # formatting it read every source file on that stack into linecache: about 0.3 MiB of
        # an idle service; it is a cache, read again when a line is wanted (docs/PERFORMANCE.md).
        linecache.clearcache()
        app[mongo_key] = mongo
        yield
        await mongo.close()

    return ctx


def bus_ctx(settings: CommonSettings, service: str) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        topology = Topology(
            namespace=settings.namespace,
            command_shards=settings.command_shards,
            dead_letter_ttl_ms=settings.dead_letter_ttl_ms,
            dead_letter_max=settings.dead_letter_max,
        )
        # The namespace in the connection name tells a test's connections from everyone else's.
        bus = Bus(
            settings.amqp_url,
            topology,
            f"{settings.namespace}{service}",
            owner=service,
            shuffle=settings.amqp_node_order == "shuffled",
        )
        app[bus_key] = bus
        yield
        await bus.close(settings.shutdown_grace_seconds)

    return ctx


def startup_ctx(
    indexes: IndexSpec, on_ready: StartHook | None = None, ttls: TtlSpec | None = None
) -> CleanupCtx:
    """Bring resources up in the background so /healthz answers while they are down."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        app[started_key] = asyncio.Event()
        task = asyncio.create_task(_start(app, indexes, on_ready, ttls or {}), name="startup")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx


async def _start(
    app: web.Application, indexes: IndexSpec, on_ready: StartHook | None, ttls: TtlSpec
) -> None:
    mongo, bus = app[mongo_key], app[bus_key]
    delay = START_RETRY.first
    while True:
        try:
            await mongo.ensure_indexes(indexes)
            await mongo.ensure_ttl(ttls)
            break
        except PyMongoError as error:
            log.warning("mongo_unavailable_at_start", reason=type(error).__name__, retry_in=delay)
            await asyncio.sleep(delay)
            delay = START_RETRY.after(delay)
    await bus.start()
    if on_ready is not None:
        await on_ready(app)
    app[started_key].set()
    log.info("service_started")


async def readiness(app: web.Application) -> dict[str, bool]:
    """What /readyz reports: start-up finished, broker connected, database answering."""
    started = started_key in app and app[started_key].is_set()
    parts = {
        "started": started,
        "broker": bus_key in app and app[bus_key].ready,
        "database": mongo_key in app and await app[mongo_key].ping(),
    }
    for name, check in app.get(checks_key, {}).items():
        parts[name] = started and check()
    return parts


def service_app(
    settings: CommonSettings,
    service: str,
    indexes: IndexSpec,
    on_ready: StartHook | None = None,
    *,
    serve_metrics: bool,
    middlewares: tuple[Middleware, ...] = (),
    client_max_size: int = 1024**2,
    ttls: TtlSpec | None = None,
) -> web.Application:
    """An application with the shared resources, health routes and (internal) metrics."""
    from shared.ops import correlation_middleware, health_routes, metrics

    app = web.Application(
        middlewares=[correlation_middleware, *middlewares], client_max_size=client_max_size
    )
    app.cleanup_ctx.extend(
        [
            mongo_ctx(settings, service),
            bus_ctx(settings, service),
            startup_ctx(indexes, on_ready, ttls),
        ]
    )

    async def check() -> dict[str, bool]:
        return await readiness(app)

    app[checks_key] = {}
    app.add_routes(health_routes(check))
    if serve_metrics:
        app.router.add_get("/metrics", metrics)
    return app
