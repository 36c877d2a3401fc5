"""CORS for the API, for the exact origins an operator lists in HAVEN_CORS_ORIGINS and no
other: an integrator's own web app on another origin may call /v1/ from a browser.

A middleware of our own rather than aiohttp-cors: that library configures CORS route by route
and answers preflights from its own OPTIONS routes, which our auth middleware would reject,
while the policy here is one rule for every API path. Tokens travel in the Authorization
header, never in cookies, so credentials are not allowed and no `*` is ever sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

API_PREFIX = "/v1/"
METHODS = "GET, POST, PUT, PATCH, DELETE"
REQUEST_HEADERS = "Authorization, Content-Type, X-Request-Id"
EXPOSED_HEADERS = "Retry-After, X-Request-Id, Content-Disposition, Location"
PREFLIGHT_MAX_AGE = "600"


def cors_middleware(origins: frozenset[str]) -> Middleware:
    """Answers preflights and marks API answers readable for `origins` (empty: does nothing)."""

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not request.path.startswith(API_PREFIX):
            return await handler(request)
        preflight = (
            request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        )
        if origin not in origins:
            if preflight:  # no route answers OPTIONS; say plainly that this origin may not
                return web.Response(status=403, headers={"Vary": "Origin"})
            response = await handler(request)
            response.headers.add("Vary", "Origin")
            return response
        if preflight:
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": METHODS,
                    "Access-Control-Allow-Headers": REQUEST_HEADERS,
                    "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
                    "Vary": "Origin",
                },
            )
        response = await handler(request)
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response.headers.add("Vary", "Origin")
        return response

    return cors
