"""The checks a bench run makes about itself (bench/selfcheck.py), on results it could write."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bench.selfcheck import problems


def good() -> dict[str, Any]:
    workload = {
        "accepted": 40,
        "delivered": 40,
        "latency": {"p50_ms": 12.0},
        "cpu_ms_per_delivered": dict.fromkeys(
            ("gateway", "messaging", "notification", "store", "loadgen"), 1.5
        ),
        "cpu_ms_per_delivered_services": 4.5,
    }
    return {
        "conditions": {"namespace": "bench1234abcd."},
        "workloads": {name: copy.deepcopy(workload) for name in "abcd"},
        "idle_sockets": {"requested": 10, "open": 10, "kib_per_socket": 30.0},
        "ceilings_per_s": {"publish": 1.0, "insert": 2.0, "http": 3.0, "verify": 4.0},
        "sweep": [{"rate": 0.5}],
        "targets": {"a_delivered_per_s": {"measured": 20.0}},
    }


def test_a_complete_run_passes() -> None:
    assert problems(good()) == []


def test_a_run_against_running_services_needs_no_idle_sockets_or_process_figures() -> None:
    result = good()
    del result["idle_sockets"], result["workloads"]["d"]
    result["conditions"]["namespace"] = None
    result["workloads"]["a"]["cpu_ms_per_delivered"] = {"loadgen": 1.0}
    assert problems(result) == []


def _lost_one(r: dict[str, Any]) -> None:
    r["workloads"]["b"]["delivered"] = 39


def _nothing(r: dict[str, Any]) -> None:
    r["workloads"]["a"].update(accepted=0, delivered=0)


def _no_store(r: dict[str, Any]) -> None:
    del r["workloads"]["c"]["cpu_ms_per_delivered"]["store"]


def _sockets(r: dict[str, Any]) -> None:
    r["idle_sockets"]["open"] = 9


def _ceiling(r: dict[str, Any]) -> None:
    r["ceilings_per_s"]["verify"] = 0


@pytest.mark.parametrize(
    "spoil",
    [
        _lost_one,
        _nothing,
        _no_store,
        _sockets,
        _ceiling,
        lambda r: r["workloads"].pop("d"),
        lambda r: r["workloads"]["a"]["latency"].update(p50_ms=0),
        lambda r: r.update(sweep=[]),
        lambda r: r["targets"]["a_delivered_per_s"].update(measured=0),
    ],
)
def test_a_spoilt_run_is_reported(spoil: Any) -> None:
    result = good()
    spoil(result)
    assert problems(result) != []
