"""Push in the notification app: its HTTP client, its deferral policies, its start-up.

`push_ctx` (first in the app's cleanup contexts, so it outlives the bus's drain on shutdown)
creates the URL guards (webhooks, Web Push), the HTTP client, the sealer and the VAPID key
(warning when the development switch or an ephemeral key is in use). `start_push` (called
from the service's start hook, once the database and broker are up) builds the engine,
declares the delay queues, consumes the work queue and returns what the service wires in: the
engine's `owed` hook, its event handlers, its RPC routes and its background loops.

Deferral policies live in `app[deferrals_key]` (created by `create_app`), a dict name ->
policy; `quiet_hours` is registered here. Another policy is registered by name in the start
hook, e.g. `app[deferrals_key]["coach_hours"] = OutsideHours(...)`; the engine reads the dict
at every decision, and the name is the policy's label on `haven_pushes_deferred_total`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from aiohttp import web
from pymongo.errors import PyMongoError

from services.notification.push.delivery import PushDelivery, WebPushConfig
from services.notification.push.engine import Clock, PushEngine
from services.notification.push.jobs import PushQueue
from services.notification.push.outbox import Outbox
from services.notification.push.preferences import PushPreferences
from services.notification.push.repository import PushRepository
from services.notification.push.schedule import DeferralPolicy, quiet_hours_policy
from services.notification.push.sealing import SecretSealer
from services.notification.push.sender import PushSender
from services.notification.push.urlguard import UrlGuard, parse_allowlist
from services.notification.push.webpush import VapidKey
from services.notification.settings import NotificationSettings
from shared.consumers import EventHandler
from shared.errors import HavenError
from shared.events import utcnow
from shared.lifecycle import CleanupCtx, bus_key, mongo_key
from shared.rpc import RpcHandler
from shared.transient import is_transient

log = structlog.get_logger(__name__)

deferrals_key = web.AppKey("push_deferrals", dict[str, DeferralPolicy])
sender_key = web.AppKey("push_sender", PushSender)
sealer_key = web.AppKey("push_sealer", SecretSealer)
guard_key = web.AppKey("push_guard", UrlGuard)
webpush_guard_key = web.AppKey("webpush_guard", UrlGuard)
vapid_key = web.AppKey("vapid_key", VapidKey)
UPKEEP_SECONDS = 60.0


def push_ctx(settings: NotificationSettings) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if settings.push_insecure_allow_loopback:
            log.warning(
                "push_insecure_loopback_allowed",
                hint="development only: http://127.0.0.1 push receivers are admitted",
            )
        guard = UrlGuard(
            allowlist=parse_allowlist(settings.push_allowed_hosts),
            allow_loopback=settings.push_insecure_allow_loopback,
        )
        sender = PushSender(
            guard=guard,
            timeout=settings.push_timeout_seconds,
            concurrency=settings.push_concurrency,
        )
        await sender.start()
        app[guard_key], app[sender_key] = guard, sender
        app[webpush_guard_key] = UrlGuard(
            allowlist=parse_allowlist(settings.push_webpush_allowed_hosts),
            allow_loopback=settings.push_insecure_allow_loopback,
        )
        app[sealer_key] = SecretSealer.from_file(settings.push_secret_key_file)
        if settings.vapid_subject is None:
            log.warning("webpush_disabled", hint="set HAVEN_VAPID_SUBJECT to accept Web Push")
        app[vapid_key] = VapidKey.load(settings.vapid_key_file, settings.vapid_subject or "")
        yield
        await sender.close()

    return ctx


@dataclass(frozen=True)
class Push:
    """What the notification service wires in."""

    engine: PushEngine
    handlers: dict[str, EventHandler]
    routes: dict[str, RpcHandler]
    loops: list[Coroutine[Any, Any, None]]


async def start_push(
    app: web.Application, settings: NotificationSettings, *, clock: Clock = utcnow
) -> Push:
    bus, db = app[bus_key], app[mongo_key].db
    repository, outbox = PushRepository(db), Outbox(db=db)
    queue = PushQueue(bus=bus, delays_ms=settings.push_retry_delays_ms)
    policies = app[deferrals_key]
    policies.setdefault("quiet_hours", quiet_hours_policy(repository.preferences))
    engine = PushEngine(
        outbox=outbox,
        repository=repository,
        queue=queue,
        policies=policies,
        collapse=timedelta(seconds=settings.push_collapse_seconds),
        lease=timedelta(seconds=settings.push_lease_seconds),
        clock=clock,
    )
    webpush = WebPushConfig(
        vapid=app[vapid_key], guard=app[webpush_guard_key], ttl=settings.push_webpush_ttl_seconds
    )
    delivery = PushDelivery(
        outbox=outbox,
        repository=repository,
        queue=queue,
        sender=app[sender_key],
        sealer=app[sealer_key],
        webpush=webpush,
        clock=clock,
    )
    preferences = PushPreferences(
        repository=repository,
        outbox=outbox,
        guards={"webhook": app[guard_key], "webpush": app[webpush_guard_key]},
        sealer=app[sealer_key],
        wake=engine.wake,
        vapid=app[vapid_key],
        webpush_enabled=settings.vapid_subject is not None,
    )
    await queue.declare_delays()
    await bus.consume(bus.topology.push_queue, delivery.handle, prefetch=settings.push_concurrency)
    retention = timedelta(days=settings.pending_retention_days)
    return Push(
        engine=engine,
        handlers=engine.handlers(),
        routes=preferences.routes(),
        loops=[
            sweep_forever(engine, settings.push_sweep_seconds),
            upkeep_forever(engine, queue, retention),
        ],
    )


async def sweep_forever(engine: PushEngine, interval: float) -> None:
    """Prepare due pushes; a round that found some is followed at once by another."""
    while True:
        handled = 0
        try:
            handled = await engine.sweep()
        except Exception as error:  # the loop must outlive any round: the next one tries again
            if is_transient(error):
                log.warning("push_sweep_failed", reason=type(error).__name__)
            else:
                log.exception("push_sweep_failed")
        if handled == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(engine.due_now.wait(), interval)
            engine.due_now.clear()


async def upkeep_forever(engine: PushEngine, queue: PushQueue, retention: timedelta) -> None:
    """Every minute: drop expired pending rows, and declare the delay queues again (so their
    `x-expires` never runs out while a replica lives)."""
    while True:
        await asyncio.sleep(UPKEEP_SECONDS)
        try:
            await queue.declare_delays()
            expired = await engine.expire(retention)
            if expired:
                log.info("pending_expired", rows=expired)
        except (PyMongoError, HavenError) as error:
            log.warning("push_upkeep_failed", reason=type(error).__name__)
