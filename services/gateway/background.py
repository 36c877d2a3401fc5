"""The gateway's background work: the periodic sweeps (deletions, attachments, device expiry),
the socket router, device invalidation, the outbox relay and the first operator, each started
once start-up finished and stopped at shutdown (`wiring.install` schedules them)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from pymongo.errors import PyMongoError

from services.gateway.edge.keys import (
    agreements_key,
    attachments_key,
    deletion_key,
    device_cache_key,
    devices_key,
    directory_key,
    operators_key,
    outbox_key,
    settings_key,
    sockets_key,
)
from services.gateway.settings import GatewaySettings
from services.gateway.stores.invalidation import DeviceInvalidation
from shared.errors import HavenError
from shared.lifecycle import bus_key
from shared.periodic import sweep_forever

log = structlog.get_logger(__name__)

EXPIRY_SWEEP_SECONDS = 3600.0
DELETION_SWEEP_SECONDS = 300.0
ATTACHMENT_SWEEP_SECONDS = 600.0


async def finish_deletions(app: web.Application) -> None:
    """Deletions interrupted half way (a crash, the store away) are completed."""

    async def finish() -> dict[str, int]:
        return {"count": await app[deletion_key].finish_pending()}

    await sweep_forever(
        finish,
        done="account_deletions_completed",
        failed="account_deletion_sweep_failed",
        errors=(PyMongoError, HavenError),
        pause=DELETION_SWEEP_SECONDS,
    )


async def sweep_attachments(app: web.Application) -> None:
    """Uploads no message referenced within the grace period, and blobs past retention."""
    settings = app[settings_key]
    # Often enough for the grace period and for a retention "day" (shortened in tests).
    pause = min(settings.attachment_grace_seconds, settings.retention_day_seconds) / 4

    async def sweep() -> dict[str, int]:
        return {"count": await app[attachments_key].sweep()}

    await sweep_forever(
        sweep,
        done="attachments_swept",
        failed="attachment_sweep_failed",
        errors=(PyMongoError,),
        pause=min(ATTACHMENT_SWEEP_SECONDS, max(0.5, pause)),
    )


async def route_sockets(app: web.Application) -> None:
    """This replica's delivery queue; /readyz waits for it (the `deliveries` check)."""
    await app[sockets_key].start()


async def invalidate_devices(app: web.Application) -> None:
    """Every replica forgets a revoked or logged-out device's cached session at once."""
    invalidation = DeviceInvalidation(
        bus=app[bus_key],
        cache=app[device_cache_key],
        directory=app[directory_key],
        agreements=app[agreements_key],
    )
    invalidation.start()
    try:
        await asyncio.Event().wait()
    finally:
        await invalidation.close()


async def relay_outbox(app: web.Application) -> None:
    await app[outbox_key].run()


async def expire_devices(app: web.Application) -> None:
    """Warn devices nearing expiry, sign out the expired (usecases/devices.py); the sweep runs
    hourly, or more often for an expiry period shorter than a couple of days (tests)."""
    devices = app[devices_key]
    every = min(EXPIRY_SWEEP_SECONDS, max(0.5, devices.expiry_seconds / 40))

    async def sweep() -> dict[str, int]:
        warned, expired = await devices.sweep_expiry()
        return {"warned": warned, "expired": expired}

    await sweep_forever(
        sweep,
        done="devices_expiry_swept",
        failed="device_expiry_failed",
        errors=(PyMongoError, HavenError),
        pause=every,
    )


def bootstrap_operator(
    settings: GatewaySettings, done: asyncio.Event
) -> Callable[[web.Application], Awaitable[None]]:
    """The first operator from configuration; /readyz waits for the attempt (`bootstrap`)."""

    async def create(app: web.Application) -> None:
        handle, password = settings.bootstrap_operator_handle, settings.bootstrap_operator_password
        while True:
            try:
                if await app[operators_key].ensure_bootstrap(handle, password):
                    log.info("bootstrap_operator_created")
                break
            except PyMongoError as error:
                log.warning("bootstrap_operator_failed", reason=type(error).__name__)
                await asyncio.sleep(1.0)
        done.set()

    return create


async def close_sockets_on_shutdown(app: web.Application) -> None:
    """Clients reconnect elsewhere at once (1012) instead of waiting for a timeout."""
    if sockets_key in app:
        await app[sockets_key].close_all(1012)
