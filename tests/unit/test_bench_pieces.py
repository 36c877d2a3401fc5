"""The bench's own arithmetic and /proc sampling, so `make bench` cannot rot unnoticed."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import pytest

from bench.ceilings import ratios
from bench.procstat import Sampler, cpu_seconds, find_by_comm, rss_bytes
from bench.stats import latency_summary, percentile
from bench.storetop import per_message
from bench.traffic import Tracker, rates, write_trace


def test_percentiles_interpolate_between_closest_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 95) == 7.0
    assert math.isnan(percentile([], 50))
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # unsorted input


def test_latency_summary_is_in_milliseconds() -> None:
    summary = latency_summary([0.010, 0.020, 0.030])
    assert summary["p50_ms"] == 20.0
    assert summary["max_ms"] == 30.0


def test_the_sampler_sees_this_process_burn_cpu_and_hold_memory() -> None:
    sampler = Sampler({"me": os.getpid()})
    before = sampler.snapshot()
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    after = sampler.snapshot()
    spent = Sampler.cpu_ms_per(before, after, 1)["me"]
    assert 150 <= spent <= 2000  # 200 ms of CPU, at clock-tick resolution
    assert Sampler.cpu_ms_per(before, after, 10)["me"] == pytest.approx(spent / 10, abs=0.01)
    assert rss_bytes(os.getpid()) > 10 * 1024 * 1024
    assert cpu_seconds(os.getpid()) >= spent / 1000


def test_an_exited_process_is_left_out_rather_than_failing_the_run() -> None:
    sampler = Sampler({"gone": 2**22 + 12345})
    assert sampler.snapshot().cpu == {}


def test_processes_are_found_by_their_command_name() -> None:
    with open(f"/proc/{os.getpid()}/comm") as comm:
        mine = comm.read().strip()
    assert os.getpid() in find_by_comm(mine)


def test_rates_count_only_what_was_sent_here_from_the_first_send() -> None:
    tracker = Tracker()
    tracker.sent = {"m1": 10.0, "m2": 10.5}
    tracker.accepted = {"m1": 10.1, "m2": 11.0}
    tracker.delivered = {"m1": 10.2, "m2": 12.0, "stranger": 11.0}
    report = rates(tracker)
    assert report["delivered"] == 2
    assert report["delivered_per_s"] == 1.0  # 2 messages from 10.0 to 12.0
    assert report["accepted_per_s"] == 2.0
    assert [round(lat, 3) for _, lat in tracker.latencies()] == [0.2, 1.5]


def test_ratios_divide_each_ceiling_by_its_uses_per_message() -> None:
    ceilings = {"publish": 3000.0, "insert": 2000.0, "http": 6000.0, "verify": 10000.0}
    got = ratios(500.0, ceilings)
    assert got == {"publish": 0.333, "insert": 0.25, "http": 0.083, "verify": 0.1}


def test_store_operations_per_message_are_the_difference_over_a_workload() -> None:
    def top(inserts: int, micros: int) -> dict[str, dict[str, dict[str, int]]]:
        return {
            "bench1a2b_messaging.messages": {
                "total": {"time": micros, "count": inserts},
                "insert": {"time": micros, "count": inserts},
                "queries": {"time": 0, "count": 3},
            },
            "bench1a2b_gateway.devices": {"total": {"time": 5, "count": 1}},
        }

    assert per_message(top(10, 1000), top(30, 5000), 100) == {
        "messaging.messages": {"insert": 0.2, "us": 40.0}  # only what moved
    }
    assert per_message(None, top(1, 1), 100) == {}  # a store without `top`
    assert per_message(top(1, 1), top(2, 2), 0) == {}


def test_a_trace_has_one_line_per_message_sent_in_unix_time(tmp_path: Path) -> None:
    tracker = Tracker()
    now = time.monotonic()
    tracker.sent = {"m1": now - 1.0, "m2": now - 0.5}
    tracker.accepted = {"m1": now - 0.9}
    tracker.delivered = {"m1": now - 0.8}
    low = time.time() - time.monotonic()  # the monotonic clock's offset, bracketed
    write_trace(tracker, tmp_path / "a.jsonl")
    high = time.time() - time.monotonic()
    rows = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [r["message_id"] for r in rows] == ["m1", "m2"]
    assert low - 1e-3 <= rows[0]["sent"] - (now - 1.0) <= high + 1e-3
    assert rows[0]["delivered"] - rows[0]["sent"] == pytest.approx(0.2, abs=1e-3)
    assert rows[1]["accepted"] is None and rows[1]["delivered"] is None
