"""Per-account, per-device and per-address rate limits (API.md "Rate limits").

Every limit but WebSocket frames lives in MongoDB, so it holds across gateway replicas:
a client cannot multiply its budget by spreading requests over them. The price is one
small atomic update per limited request.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Literal

from prometheus_client import Counter

from services.gateway.repository.ratelimits import RateBuckets
from services.gateway.settings import GatewaySettings
from shared.errors import RateLimitedError
from shared.rates import Rate

RATE_LIMITED = Counter("haven_rate_limited_total", "Requests refused by a rate limit", ["limit"])

Limit = Literal["send", "invites", "kx", "device_ops", "register"]

DETAILS: dict[Limit, str] = {
    "send": "you are sending faster than this server allows; the message will go through shortly",
    "invites": "too many invites for now; try again later",
    "kx": "this device rotated its keys too often; try again later",
    "device_ops": "too many device changes for now; try again later",
    "register": "too many registrations from this network; try again later",
}


class Limits:
    def __init__(self, buckets: RateBuckets, settings: GatewaySettings) -> None:
        self._buckets = buckets
        self._rates: dict[Limit, Rate] = {name: settings.rate(name) for name in DETAILS}

    async def check(self, limit: Limit, subject: str, now: datetime) -> None:
        """Take one token for `subject` (an account, device or address) or raise 429."""
        decision = await self._buckets.take(f"{limit}:{subject}", self._rates[limit], now)
        if not decision.allowed:
            RATE_LIMITED.labels(limit=limit).inc()
            raise RateLimitedError(retry_after=decision.retry_after, detail=DETAILS[limit])


def address_bucket(address: str) -> str:
    """IPv6 clients get a whole /64 each: rotating inside it must not reset a limit."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return address
