"""Authentication at the edge: every non-public view gets the caller as a `Principal`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from services.gateway.edge.http import PUBLIC_VIEWS, client_address, principal_key
from services.gateway.edge.keys import authenticator_key
from shared.errors import UnauthorizedError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    view = request.match_info.route.handler
    if view in PUBLIC_VIEWS or request.match_info.http_exception is not None:
        return await handler(request)
    if request.path in {"/healthz", "/readyz"} or request.path == "/v1/ws":
        return await handler(request)
    token = bearer(request)
    if token is None:
        raise UnauthorizedError("missing bearer token")
    authenticator = request.app[authenticator_key]
    request[principal_key] = await authenticator.authenticate(token, client_address(request))
    return await handler(request)
