"""Rate arithmetic, the WebSocket frame guards and the unauthenticated-socket cap: pure logic."""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway.edge.websocket import decode_frame
from services.gateway.model.rates import LocalBucket, Rate, decide
from services.gateway.security.limits import address_bucket
from services.gateway.settings import GatewaySettings
from services.gateway.sockets.admission import PendingSockets
from services.gateway.sockets.budget import CLOSE_RATE_LIMITED, STRIKES, FrameLimiter


def test_rates_parse_as_operators_write_them() -> None:
    assert Rate.parse("30/minute,10") == Rate(count=30, period_seconds=60, burst=10)
    assert Rate.parse(" 2 / hour ") == Rate(count=2, period_seconds=3600, burst=1)
    for bad in ("30", "30/fortnight", "0/minute", "5/minute,0", "-1/second", "x/minute"):
        with pytest.raises(ValueError, match=r"expected|positive"):
            Rate.parse(bad)


def test_default_send_rate_is_thirty_a_minute_in_bursts_of_ten() -> None:
    assert GatewaySettings().rate("send") == Rate(count=30, period_seconds=60, burst=10)


def test_a_bucket_allows_its_burst_then_one_per_interval() -> None:
    rate = Rate.parse("30/minute,10")  # one every 2 s
    bucket = LocalBucket(rate)
    assert all(bucket.take(1000.0).allowed for _ in range(10))
    refused = bucket.take(1000.0)
    assert not refused.allowed and refused.retry_after == 2
    assert not bucket.take(1001.0).allowed  # refusals cost nothing, and nothing refilled yet
    assert bucket.take(1002.0).allowed
    assert not bucket.take(1002.0).allowed
    assert all(bucket.take(1100.0).allowed for _ in range(10))  # a quiet spell refills it


def test_decide_reports_the_wait_in_whole_seconds_at_least_one() -> None:
    rate = Rate.parse("1/hour")
    decision, tat = decide(rate, None, 0.0)
    assert decision.allowed and tat == 3600.0
    decision, same = decide(rate, tat, 0.5)
    assert not decision.allowed and decision.retry_after == 3600 and same == tat
    decision, _ = decide(rate, tat, 3599.9)
    assert not decision.allowed and decision.retry_after == 1


def test_ipv6_clients_share_a_bucket_per_slash_64() -> None:
    assert address_bucket("2001:db8::1") == address_bucket("2001:db8::ffff:1") == "2001:db8::/64"
    assert address_bucket("203.0.113.7") == "203.0.113.7"
    assert address_bucket("unknown") == "unknown"


@pytest.mark.parametrize(
    "data",
    ["[" * 100_000 + "]" * 100_000, '{"type": ' + "[" * 50_000, "[1, 2]", '{"type": 7}', "", 42],
)
def test_hostile_or_malformed_frames_are_not_frames(data: Any) -> None:
    assert decode_frame(data) is None


def test_a_proper_frame_decodes() -> None:
    assert decode_frame('{"type": "ping"}') == {"type": "ping"}


class RecordingSocket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed_with: int | None = None

    def send(self, frame: dict[str, Any]) -> None:
        self.sent.append(frame)

    def close_soon(self, code: int, reason: str) -> None:
        self.closed_with = code


def test_a_socket_over_its_frame_budget_gets_errors_then_is_closed_with_4429() -> None:
    limiter = FrameLimiter(Rate.parse("1/hour,3"))
    socket = RecordingSocket()
    assert [limiter.allow(socket) for _ in range(3)] == [True] * 3  # type: ignore[arg-type]
    for _ in range(STRIKES - 1):
        assert not limiter.allow(socket)  # type: ignore[arg-type]
    assert socket.closed_with is None
    assert all(f["code"] == "rate_limited" and f["retry_after"] >= 1 for f in socket.sent)
    assert not limiter.allow(socket)  # type: ignore[arg-type]
    assert socket.closed_with == CLOSE_RATE_LIMITED


def test_unauthenticated_sockets_are_capped_per_address_and_released() -> None:
    pending = PendingSockets(per_address=2)
    with pending.admit("a") as first, pending.admit("a") as second:
        assert first and second
        with pending.admit("a") as third, pending.admit("b") as other:
            assert not third and other
    with pending.admit("a") as again:
        assert again
