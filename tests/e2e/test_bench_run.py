"""A tiny `make bench` run end to end: a stack of its own, every workload, JSON and figures."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import aio_pika
import pytest

from bench.stack import DEFAULT_SHARDS
from shared.topology import Topology, queue_specs
from tools import broker

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(240)
def test_a_quick_bench_run_delivers_measures_and_writes_its_results(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (result_file,) = tmp_path.glob("bench-*.json")
    result = json.loads(result_file.read_text())
    for name in ("a", "b", "c", "d"):
        workload = result["workloads"][name]
        assert workload["delivered"] > 0, (name, workload)
        assert workload["delivered"] == workload["accepted"], (name, workload)
        assert workload["latency"]["p50_ms"] > 0
        assert {"gateway", "messaging", "notification", "store", "loadgen"} <= set(
            workload["cpu_ms_per_delivered"]
        )
        assert workload["cpu_ms_per_delivered_services"] > 0
    assert result["idle_sockets"]["open"] == result["idle_sockets"]["requested"]
    assert result["idle_sockets"]["kib_per_socket"] is not None
    assert set(result["ceilings_per_s"]) == {"publish", "insert", "http", "verify"}
    assert all(v > 0 for v in result["ceilings_per_s"].values())
    assert result["sweep"] and result["targets"]["a_delivered_per_s"]["measured"] > 0
    assert list(tmp_path.glob("bench-*.png")) or "no PNG" in done.stderr
    # Its stack's queues are gone with it: leftover quorum queues pile up on the broker.
    namespace = result["conditions"]["namespace"]
    assert namespace
    names = Topology(namespace=namespace, command_shards=DEFAULT_SHARDS)
    assert asyncio.run(leftover_queues(names)) == []


async def leftover_queues(names: Topology) -> list[str]:
    connection = await aio_pika.connect(broker.DEFAULT_URL)
    found = []
    async with connection:
        for spec in queue_specs(names):
            channel = await connection.channel()  # a failed passive declare closes it
            try:
                await channel.declare_queue(spec.name, passive=True)
                found.append(spec.name)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                pass
    return found
