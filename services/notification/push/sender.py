"""The HTTP side of a push: one POST through the URL guard, and what its outcome means.

One aiohttp session per process, created and closed by its cleanup context: timeouts on
connect and on the whole exchange, a bounded number of connections, no redirects, no proxy
from the environment, a fresh guarded lookup (and connection) for every push.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import aiohttp

from services.notification.push.urlguard import (
    AddressRefusedError,
    GuardedResolver,
    RefusedUrlError,
    UrlGuard,
)

Verdict = Literal["sent", "retry", "gone", "give_up"]
USER_AGENT = "Haven-Push/1"
REFUSED = "address_refused"


@dataclass(frozen=True)
class Attempt:
    """One POST: the HTTP status, or why there was none (`address_refused`: the URL guard
    refused it; `timeout`; `network`)."""

    status: int | None
    error: str | None
    seconds: float

    @property
    def reason(self) -> str:
        return f"http_{self.status}" if self.status is not None else f"{self.error}"


def verdict(attempt: Attempt, *, gone: tuple[int, ...] = (410,)) -> Verdict:
    """2xx sent; 410 the gateway forgot the device (a push service: 404 or 410, `gone`);
    network errors, timeouts, 408, 429 and 5xx are retried; anything else (other 4xx, 3xx,
    a refused address) is not."""
    status = attempt.status
    if status is None:
        return "give_up" if attempt.error == REFUSED else "retry"
    if 200 <= status < 300:
        return "sent"
    if status in gone:
        return "gone"
    if status in (408, 429) or status >= 500:
        return "retry"
    return "give_up"


class PushSender:
    def __init__(self, guard: UrlGuard, *, timeout: float, concurrency: int) -> None:
        self._guard = guard
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        self._concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(self._guard),
            use_dns_cache=False,  # every push resolves and checks the name again
            force_close=True,  # and connects anew: no connection outlives its check
            limit=self._concurrency,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            trust_env=False,
            headers={"User-Agent": USER_AGENT},
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self, url: str, headers: dict[str, str], body: bytes, guard: UrlGuard | None = None
    ) -> Attempt:
        """`guard` (default: the webhook guard) holds the allowlist the URL must be on; the
        address rules after resolution are the same for every kind."""
        assert self._session is not None, "start() first"
        started = time.perf_counter()
        try:
            (guard or self._guard).target(url)  # the rules may have changed since it was registered
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                return Attempt(response.status, None, time.perf_counter() - started)
        except RefusedUrlError:
            error = REFUSED
        except aiohttp.ClientConnectorError as failure:
            refused = isinstance(failure.os_error, AddressRefusedError)
            error = REFUSED if refused else "network"
        except TimeoutError:
            error = "timeout"
        except aiohttp.ClientError:
            error = "network"
        return Attempt(None, error, time.perf_counter() - started)
