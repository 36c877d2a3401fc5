"""Per-account, per-device and per-address rate limits (API.md "Rate limits").

Every limit but WebSocket frames lives in MongoDB, so it holds across gateway replicas:
a client cannot multiply its budget by spreading requests over them.

A subject that keeps sending does not pay one update per request: the replica takes a
*lease* of several tokens from the shared bucket in one atomic update and spends them
locally. A lease starts at one token and doubles while the previous one was used up within
LEASE_SECONDS, up to a quarter of the burst (at most MAX_LEASE); unused tokens are dropped
when it lapses. Tokens are only ever spent after the shared bucket granted them, so the limit
never loosens, across any number of replicas; the price is that a lapsed lease's leftovers
(fewer than a quarter of the burst) are lost to the subject, which only makes it stricter.
Small bursts (under 8) lease one token at a time: exactly one update per request.

Concurrent requests of one subject share a lease being taken: while one of them is at the
shared bucket, the others wait for its lease instead of each taking (and overwriting) one of
their own, so eight requests in flight cost one update, not eight.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from prometheus_client import Counter

from services.gateway.model.rates import Rate
from services.gateway.settings import GatewaySettings
from services.gateway.stores.ratelimits import RateBuckets
from shared.errors import RateLimitedError

RATE_LIMITED = Counter("haven_rate_limited_total", "Requests refused by a rate limit", ["limit"])

Limit = Literal[
    "send",
    "invites",
    "kx",
    "device_ops",
    "register",
    "pause",
    "delete",
    "login_account",
    "login_address",
    "attachments",
    "link",
    "reset_code",
    "reset_account",
    "reset_address",
]

DETAILS: dict[Limit, str] = {
    "send": "you are sending faster than this server allows; the message will go through shortly",
    "invites": "too many invites for now; try again later",
    "kx": "this device rotated its keys too often; try again later",
    "device_ops": "too many device changes for now; try again later",
    "register": "too many registrations from this network; try again later",
    "pause": "this conversation's pause changed often just now; try again later",
    "delete": "too many deletions for now; try again later",
    "login_account": "this account signed in often just now; try again later",
    "login_address": "many sign-ins from this network just now; try again later",
    "attachments": "too many uploads for now; try again later",
    "link": "too many device links for now; try again later",
    "reset_code": "too many reset codes for now; try again later",
    "reset_account": "this account tried many password resets just now; try again later",
    "reset_address": "many password resets from this network just now; try again later",
}


LEASE_SECONDS = 5.0
MAX_LEASE = 64
MAX_LEASES = 100_000


@dataclass
class _Lease:
    tokens: int
    until: float  # time.monotonic()
    size: int


def lease_cap(rate: Rate) -> int:
    return max(1, min(MAX_LEASE, rate.burst // 4))


class Limits:
    def __init__(self, *, buckets: RateBuckets, settings: GatewaySettings) -> None:
        self._buckets = buckets
        self._rates: dict[Limit, Rate] = {name: settings.rate(name) for name in DETAILS}
        self._leases: dict[str, _Lease] = {}
        self._taking: dict[str, asyncio.Future[None]] = {}  # a lease on its way, per key

    async def check(self, limit: Limit, subject: str, now: datetime) -> None:
        """Take one token for `subject` (an account, device or address) or raise 429."""
        key, rate = f"{limit}:{subject}", self._rates[limit]
        while True:
            clock = time.monotonic()
            lease = self._leases.get(key)
            if lease is not None and lease.tokens > 0 and clock < lease.until:
                lease.tokens -= 1
                return
            taking = self._taking.get(key)
            if taking is None:
                break
            await asyncio.shield(taking)  # then look again: its lease may have a token left
        used_up = lease is not None and clock < lease.until
        size = min(lease.size * 2, lease_cap(rate)) if lease is not None and used_up else 1
        self._taking[key] = taken = asyncio.get_running_loop().create_future()
        try:
            granted, retry_after = await self._buckets.take_up_to(key, rate, now, size)
        finally:
            del self._taking[key]
            taken.set_result(None)
        if granted == 0:
            RATE_LIMITED.labels(limit=limit).inc()
            raise RateLimitedError(retry_after=retry_after, detail=DETAILS[limit])
        if len(self._leases) >= MAX_LEASES:
            self._leases.clear()  # dropping leases only drops tokens: never looser
        self._leases[key] = _Lease(granted - 1, time.monotonic() + LEASE_SECONDS, size)

    async def ensure_left(self, limit: Limit, subject: str, now: datetime) -> None:
        """429 if `subject` has no token left, taking none: a budget spent only on success can
        refuse before the work, whatever the outcome would have been (no oracle)."""
        key = f"{limit}:{subject}"
        lease = self._leases.get(key)
        if lease is not None and lease.tokens > 0 and time.monotonic() < lease.until:
            return
        retry_after = await self._buckets.wait(key, self._rates[limit], now)
        if retry_after:
            RATE_LIMITED.labels(limit=limit).inc()
            raise RateLimitedError(retry_after=retry_after, detail=DETAILS[limit])


def address_bucket(address: str) -> str:
    """IPv6 clients get a whole /64 each: rotating inside it must not reset a limit."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return address
