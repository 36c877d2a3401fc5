"""Sending at the server's pace: after a 429 the SDK waits out ``Retry-After`` and then spaces
its sends by it for a while, so a burst is sent a little later instead of refused again (and
the socket is never closed for persisting, 4429)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

PACED_FOR = 60.0  # how long the learned spacing holds after the last refusal
MAX_WAIT = 60.0  # one wait is never longer, whatever a server says


class Pacer:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._not_before = 0.0
        self._interval = 0.0
        self._paced_until = 0.0
        self._lock = asyncio.Lock()

    @property
    def lock(self) -> asyncio.Lock:
        """Held while one send waits and goes out: sends keep their order while paced."""
        return self._lock

    def delay(self) -> float:
        """Seconds until the next send may go."""
        return max(0.0, self._not_before - self._clock())

    async def wait(self) -> None:
        if (delay := self.delay()) > 0:
            await asyncio.sleep(delay)

    def sent(self) -> None:
        now = self._clock()
        if now < self._paced_until:
            self._not_before = now + self._interval
        else:
            self._interval = 0.0

    def refused(self, retry_after: float | None) -> float:
        """A 429: the wait before trying again (also the spacing learned for a while)."""
        wait = min(max(retry_after or 1.0, 0.1), MAX_WAIT)
        now = self._clock()
        self._interval = max(self._interval, wait)
        self._not_before = now + wait
        self._paced_until = now + PACED_FOR
        return wait
