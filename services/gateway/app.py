"""Composition root of the gateway: the public API app and the internal ops app."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

import structlog
from aiohttp import web
from pymongo.errors import PyMongoError

from services.gateway import views  # noqa: F401 - registers the endpoints
from services.gateway.auth import auth_middleware
from services.gateway.context import Gateway
from services.gateway.http import ENDPOINTS, gateway_key
from services.gateway.identity.accounts import ensure_bootstrap_operator
from services.gateway.identity.devices import expire_unseen
from services.gateway.invalidation import DeviceInvalidation
from services.gateway.ops import create_ops_app
from services.gateway.problems import problem_middleware
from services.gateway.repository import INDEXES
from services.gateway.tokens import TokenSigner
from services.gateway.urgent import urgent_send_middleware
from services.gateway.ws.handler import websocket
from shared.lifecycle import CleanupCtx, bus_key, checks_key, mongo_key, service_app
from shared.logging import configure_logging
from shared.runner import run
from shared.settings import GatewaySettings, load_settings

log = structlog.get_logger(__name__)

SERVICE = "gateway"
EXPIRY_SWEEP_SECONDS = 3600.0


def gateway_ctx(settings: GatewaySettings, signer: TokenSigner) -> CleanupCtx:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        gw = Gateway.build(settings, app[mongo_key], app[bus_key], signer)
        app[gateway_key] = gw
        yield
        gw.hasher.close()

    return ctx


async def on_ready(app: web.Application) -> None:
    gw = app[gateway_key]
    await gw.sockets.start()
    invalidation = DeviceInvalidation(gw.bus, gw.device_cache)
    invalidation.start()
    app[invalidation_key].append(invalidation)
    if await ensure_bootstrap_operator(gw):
        log.info("bootstrap_operator_created")
    app[background_key].extend(
        [
            asyncio.create_task(gw.outbox.run(), name="outbox-relay"),
            asyncio.create_task(_sweep_expired(gw), name="device-expiry"),
        ]
    )


async def _sweep_expired(gw: Gateway) -> None:
    while True:
        try:
            expired = await expire_unseen(gw)
            if expired:
                log.info("devices_expired", count=expired)
        except PyMongoError as error:
            log.warning("device_expiry_failed", reason=type(error).__name__)
        await asyncio.sleep(EXPIRY_SWEEP_SECONDS)


background_key = web.AppKey("background", list[asyncio.Task[None]])
invalidation_key = web.AppKey("invalidation", list[DeviceInvalidation])


async def _stop_background(app: web.Application) -> None:
    if gateway_key in app:
        await app[gateway_key].sockets.close_all(1012)
    for invalidation in app[invalidation_key]:
        await invalidation.close()
    for task in app[background_key]:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def load_signer(settings: GatewaySettings) -> TokenSigner:
    """Read the signing keys before serving; a bad key file stops start-up with one line."""
    try:
        return TokenSigner.from_settings(settings)
    except (OSError, ValueError, TypeError) as error:
        sys.stderr.write(f"configuration error: HAVEN_SIGNING_KEY_FILE: {error}\n")
        raise SystemExit(2) from None


def create_app(settings: GatewaySettings, signer: TokenSigner | None = None) -> web.Application:
    app = service_app(
        settings,
        SERVICE,
        INDEXES,
        on_ready,
        serve_metrics=False,
        middlewares=(urgent_send_middleware, problem_middleware, auth_middleware),
        client_max_size=settings.max_body_bytes,
    )
    app[checks_key]["deliveries"] = lambda: (
        gateway_key in app and app[gateway_key].sockets.router.ready
    )
    signer = signer or load_signer(settings)
    app.cleanup_ctx.insert(2, gateway_ctx(settings, signer))  # after mongo and bus, before start-up
    app[background_key] = []
    app[invalidation_key] = []
    app.on_shutdown.append(_stop_background)
    for e in ENDPOINTS:
        app.router.add_route(e.method, e.path, e.view)
    app.router.add_get("/v1/ws", websocket)
    return app


def main() -> None:
    settings = load_settings(GatewaySettings)
    configure_logging(SERVICE, settings.log_level)
    app = create_app(settings, load_signer(settings))
    run(
        [
            (app, settings.host, settings.gateway_port),
            (create_ops_app(app), settings.host, settings.gateway_ops_port),
        ],
        settings.shutdown_grace_seconds,
    )
