"""Bearer authentication: a verified token whose device is still active in that session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from services.gateway.context import Gateway, Principal
from services.gateway.http import PUBLIC_VIEWS, client_address, gateway, principal_key
from services.gateway.tokens import InvalidToken
from shared.errors import Unauthorized

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def authenticate(gw: Gateway, token: str, address: str) -> Principal:
    try:
        claims = gw.signer.verify(token)
    except InvalidToken as error:
        raise Unauthorized("invalid or expired access token") from error
    if await gw.device_cache.active_session(claims.device_id, claims.session) != claims.session:
        raise Unauthorized("this device session has ended")
    return Principal(claims.account_id, claims.device_id, claims.role, address)


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
        raise Unauthorized("missing bearer token")
    request[principal_key] = await authenticate(gateway(request), token, client_address(request))
    return await handler(request)
