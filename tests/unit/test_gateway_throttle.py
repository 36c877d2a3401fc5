"""The login back-off: growing, capped, and never an arithmetic error however long the attack."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.gateway.stores.throttle import backoff

CAP = timedelta(minutes=15)


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(5, timedelta(seconds=1)), (6, timedelta(seconds=2)), (10, timedelta(seconds=32))],
)
def test_backoff_doubles_past_the_free_quota(failures: int, expected: timedelta) -> None:
    assert backoff(failures, 5, CAP) == expected


@pytest.mark.parametrize("failures", [15, 52, 53, 1_000, 10**6, 2**63 - 1, 10**30])
def test_backoff_stays_at_the_cap_however_many_failures(failures: int) -> None:
    assert backoff(failures, 5, CAP) == CAP


def test_backoff_is_never_negative_or_above_a_tiny_cap() -> None:
    assert backoff(0, 5, CAP) == timedelta(seconds=1)
    assert backoff(10**9, 5, timedelta(seconds=3)) == timedelta(seconds=3)
