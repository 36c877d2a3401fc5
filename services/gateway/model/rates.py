"""Rate limits as operators write them: `"30/minute,10"` is 30 per minute with bursts of 10.

A rate is a GCRA token bucket (the "generic cell rate algorithm" of ATM networks and of
most API gateways): one request every `interval` seconds on average, and up to `burst`
at once after a quiet spell. It needs a single number of state per key — the theoretical
arrival time — so one atomic update on a shared store decides each request.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_FORMAT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(second|minute|hour|day)\s*(?:,\s*(\d+)\s*)?$")


@dataclass(frozen=True)
class Rate:
    count: float
    period_seconds: float
    burst: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`"N/unit"` or `"N/unit,burst"`; the burst defaults to 1 (no bursts)."""
        match = _FORMAT.match(text)
        if match is None:
            raise ValueError('expected "<count>/<second|minute|hour|day>[,<burst>]"')
        count, unit, burst = float(match[1]), match[2], int(match[3] or 1)
        if count <= 0 or burst < 1:
            raise ValueError("count must be positive and burst at least 1")
        return cls(count=count, period_seconds=PERIODS[unit], burst=burst)

    @property
    def interval(self) -> float:
        """Seconds one request costs: the bucket refills one token per interval."""
        return self.period_seconds / self.count

    @property
    def tolerance(self) -> float:
        """How far ahead of now the arrival time may run: `burst - 1` intervals."""
        return self.interval * (self.burst - 1)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # whole seconds until a request would be allowed (0 when allowed)


def decide(rate: Rate, tat: float | None, now: float) -> tuple[Decision, float]:
    """Pure GCRA step: the decision and the new theoretical arrival time.

    The store-backed limiter does the same arithmetic inside one atomic update; this
    function is the reference it is tested against and the in-memory limiter.
    """
    current = max(tat if tat is not None else now, now)
    if current - now <= rate.tolerance:
        return Decision(True, 0), current + rate.interval
    wait = current - rate.tolerance - now
    return Decision(False, max(1, math.ceil(wait))), current


class LocalBucket:
    """One GCRA bucket in memory, for limits that belong to one connection (WebSocket frames)."""

    def __init__(self, rate: Rate) -> None:
        self._rate = rate
        self._tat: float | None = None

    def take(self, now: float) -> Decision:
        decision, self._tat = decide(self._rate, self._tat, now)
        return decision
