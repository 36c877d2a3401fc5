"""Small HTTP helpers shared by the views: the endpoint registry, parsing, rendering, caller."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from services.gateway.edge.keys import settings_key
from services.gateway.model.principal import Principal

principal_key = web.RequestKey("principal", Principal)
# The body, when a middleware had to read it before the view (urgent sends: urgent.py).
raw_body_key = web.RequestKey("raw_body", bytes)

M = TypeVar("M", bound=BaseModel)
View = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Endpoint:
    """One public API operation; the OpenAPI document is generated from these."""

    method: str
    path: str
    view: View
    summary: str
    auth: bool = True
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    tag: str = "identity"


ENDPOINTS: list[Endpoint] = []
PUBLIC_VIEWS: set[View] = set()


def endpoint(
    method: str,
    path: str,
    summary: str,
    *,
    auth: bool = True,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    tag: str = "identity",
) -> Callable[[View], View]:
    def register(view: View) -> View:
        ENDPOINTS.append(Endpoint(method, path, view, summary, auth, body, response, status, tag))
        if not auth:
            PUBLIC_VIEWS.add(view)
        return view

    return register


def caller(request: web.Request) -> Principal:
    return request[principal_key]


async def parse(request: web.Request, model: type[M]) -> M:
    """Validate the JSON body; pydantic errors become 422 naming the fields."""
    raw = request[raw_body_key] if raw_body_key in request else await request.read()
    return model.model_validate_json(raw or b"null")


def render(model: BaseModel, status: int = 200, *, exclude_none: bool = False) -> web.Response:
    return web.Response(
        status=status,
        text=model.model_dump_json(exclude_none=exclude_none),
        content_type="application/json",
    )


def no_content() -> web.Response:
    return web.Response(status=204)


def client_address(request: web.Request) -> str:
    """The peer address, or X-Forwarded-For's nearest untrusted hop behind a trusted proxy."""
    peer = _plain(request.remote or "unknown")
    trusted = request.app[settings_key].trusted_networks
    if not trusted or not _in(peer, trusted):
        return peer
    # Every header line, in order: a proxy may add its own line instead of appending.
    joined = ",".join(request.headers.getall("X-Forwarded-For", []))
    hops = [_plain(h.strip()) for h in joined.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            return hop
    return peer


def _plain(address: str) -> str:
    """`::ffff:10.0.0.2` is 10.0.0.2: match IPv4 networks and throttle one address once."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


def _in(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)
