"""Operational HTTP: health, readiness, metrics, and the correlation-id middleware."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.logging import correlation
from shared.metrics import HTTP_REQUESTS

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _clean_request_id(value: str | None) -> str | None:
    """Accept a client's id only if it is short and printable: it lands in logs."""
    if value and len(value) <= 128 and all(c.isalnum() or c in "-_.:" for c in value):
        return value
    return None


@web.middleware
async def correlation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind the request's correlation id to every log line and echo it back."""
    started = time.perf_counter()
    with correlation(_clean_request_id(request.headers.get(REQUEST_ID_HEADER))) as request_id:
        try:
            response = await handler(request)
        except web.HTTPException as error:
            error.headers[REQUEST_ID_HEADER] = request_id
            raise
        response.headers[REQUEST_ID_HEADER] = request_id
        resource = request.match_info.route.resource
        route = resource.canonical if resource else "unmatched"
        elapsed = time.perf_counter() - started
        HTTP_REQUESTS.labels(request.method, route, response.status).observe(elapsed)
        quiet = route in QUIET_ROUTES
        (log.debug if quiet else log.info)(
            "http_request",
            method=request.method,
            route=route,
            status=response.status,
            ms=round(elapsed * 1000, 1),
        )
        return response


def health_routes(check: ReadinessCheck) -> list[web.RouteDef]:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        try:
            parts = await asyncio.wait_for(check(), timeout=3)
        except TimeoutError:
            parts = {"timeout": False}
        ready = all(parts.values())
        return web.json_response(
            {"status": "ready" if ready else "unavailable", "checks": parts},
            status=200 if ready else 503,
        )

    return [web.get("/healthz", healthz), web.get("/readyz", readyz)]


async def metrics(_: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


def ops_app(check: ReadinessCheck) -> web.Application:
    """The internal-port application: health and metrics, never the public API."""
    app = web.Application(middlewares=[correlation_middleware])
    app.add_routes([*health_routes(check), web.get("/metrics", metrics)])
    return app
