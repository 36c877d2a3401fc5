"""Rate-limit leases: fewer shared-bucket updates, never more requests than the bucket grants."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.model.rates import Rate
from services.gateway.security import limits as limits_module
from services.gateway.security.limits import Limits, lease_cap
from services.gateway.settings import GatewaySettings
from shared.errors import RateLimitedError

START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class SharedBucket:
    """The store's GCRA arithmetic (services/gateway/stores/ratelimits.py), in memory."""

    tat: dict[str, float] = field(default_factory=dict)
    updates: int = 0
    granted: int = 0

    async def take_up_to(self, key: str, rate: Rate, now: datetime, want: int) -> tuple[int, int]:
        self.updates += 1
        at = now.timestamp()
        tat = max(self.tat.get(key, at), at)
        room = math.floor((rate.tolerance - (tat - at)) / rate.interval) + 1
        granted = max(0, min(want, room))
        self.tat[key] = tat + granted * rate.interval
        self.granted += granted
        if granted:
            return granted, 0
        return 0, max(1, math.ceil(tat - rate.tolerance - at))


@dataclass
class RemoteBucket(SharedBucket):
    """The same bucket a round trip away: other requests run while an update is on its way."""

    async def take_up_to(self, key: str, rate: Rate, now: datetime, want: int) -> tuple[int, int]:
        await asyncio.sleep(0.01)
        return await super().take_up_to(key, rate, now, want)


def limits_with(bucket: SharedBucket, send: str) -> Limits:
    return Limits(buckets=bucket, settings=GatewaySettings(rate_send=send))  # type: ignore[arg-type]


async def allowed(limits: Limits, count: int, now: datetime) -> int:
    passed = 0
    for _ in range(count):
        try:
            await limits.check("send", "acct", now)
            passed += 1
        except RateLimitedError:
            pass
    return passed


async def test_a_busy_sender_pays_one_update_per_lease_not_per_request() -> None:
    bucket = SharedBucket()
    limits = limits_with(bucket, "100000/minute,10000")
    assert await allowed(limits, 1000, START) == 1000
    assert bucket.updates < 30  # leases of 1, 2, 4, ... 64
    assert bucket.granted >= 1000


async def test_replicas_together_never_exceed_the_burst() -> None:
    bucket = SharedBucket()
    replicas = [limits_with(bucket, "60/minute,40") for _ in range(3)]
    passed = sum([await allowed(r, 30, START) for r in replicas])
    assert passed <= 40
    assert bucket.granted <= 40


async def test_small_bursts_take_one_token_per_request_exactly_as_before() -> None:
    bucket = SharedBucket()
    limits = limits_with(bucket, "30/minute,3")
    assert lease_cap(Rate.parse("30/minute,3")) == 1
    assert await allowed(limits, 5, START) == 3
    assert bucket.updates == 5
    with pytest.raises(RateLimitedError) as refused:
        await limits.check("send", "acct", START)
    assert refused.value.retry_after >= 1


async def test_a_lapsed_lease_starts_again_from_one_token(monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = SharedBucket()
    limits = limits_with(bucket, "600/minute,40")
    clock = [1000.0]
    monkeypatch.setattr(limits_module.time, "monotonic", lambda: clock[0])
    assert await allowed(limits, 7, START) == 7  # leases 1, 2, 4
    before = bucket.updates
    clock[0] += limits_module.LEASE_SECONDS + 0.1
    later = START + timedelta(seconds=30)
    assert await allowed(limits, 1, later) == 1
    assert bucket.updates == before + 1
    assert bucket.tat["send:acct"] == pytest.approx(later.timestamp() + 0.1)  # one token


async def test_requests_in_flight_together_wait_for_one_lease_instead_of_each_taking_one() -> None:
    bucket = RemoteBucket()
    limits = limits_with(bucket, "100000/minute,10000")
    assert await allowed(limits, 7, START) == 7  # leases of 1, 2 and 4, all spent
    assert bucket.updates == 3
    await asyncio.gather(*(limits.check("send", "acct", START) for _ in range(8)))
    assert bucket.updates == 4  # one lease of 8 for the eight
    assert bucket.granted == 15


async def test_a_refused_lease_leaves_the_waiting_requests_to_ask_again() -> None:
    bucket = RemoteBucket()
    limits = limits_with(bucket, "60/minute,40")
    bucket.tat["send:acct"] = START.timestamp() + 3600  # spent for an hour
    outcomes = await asyncio.gather(
        *(limits.check("send", "acct", START) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(o, RateLimitedError) for o in outcomes)
    assert bucket.updates == 3  # each asked the bucket itself, one after another
    assert bucket.granted == 0
