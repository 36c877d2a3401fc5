"""Keep a resource that can be lost (an exclusive queue and its bindings) re-established."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from shared.transient import is_transient

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Exponential delays between failed attempts: `first`, doubled up to `maximum`."""

    first: float = 0.1
    maximum: float = 2.0

    def after(self, delay: float) -> float:
        return min(delay * 2, self.maximum)


async def supervised(
    name: str, body: Callable[[], Awaitable[None]], *, retry: Backoff = Backoff()
) -> None:
    """Run `body` again and again until cancelled.

    `body` establishes the resource and returns once it is lost: it runs again at once. A
    transient failure (`shared.transient`) means "not now": it runs again after a back-off
    that resets with the next success. Anything else is a bug and ends the loop.
    """
    delay = retry.first
    while True:
        try:
            await body()
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning("supervised_retry", task=name, reason=str(error), retry_in=delay)
            await asyncio.sleep(delay)
            delay = retry.after(delay)
            continue
        delay = retry.first
