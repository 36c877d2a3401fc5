"""`bench.run --store-ttl-sweep`: the embedded store started by bench/store.py is standalone
and sweeps expired documents at the interval it was given (the default is 60 s)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient, IndexModel

from shared.events import utcnow
from tools.processes import free_port, port_open, secantus_url, spawn, stop, wait_until


@pytest.fixture
def bench_store(tmp_path: Path) -> Iterator[str]:
    """The bench's store, sweeping every half second."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.store", f"--port={port}", "--ttl-sweep=0.5"]
    store = spawn(argv, os.environ, tmp_path / "store.log")
    try:
        wait_until(lambda: port_open(port), 30, "bench store")
        yield secantus_url(port)
    finally:
        stop(store)


async def test_the_bench_store_sweeps_at_the_interval_it_was_given(bench_store: str) -> None:
    client: AsyncMongoClient = AsyncMongoClient(bench_store)
    try:
        assert "setName" not in await client.admin.command("hello")  # standalone
        expiring = client.bench_store_test.messages
        await expiring.create_indexes([IndexModel("expires_at", expireAfterSeconds=0)])
        await expiring.insert_many(
            [
                {"_id": "gone", "expires_at": utcnow() - timedelta(seconds=1)},
                {"_id": "kept", "expires_at": utcnow() + timedelta(days=1)},
            ]
        )
        async with asyncio.timeout(10):  # 60 s at the store's own interval
            while await expiring.count_documents({"_id": "gone"}):
                await asyncio.sleep(0.1)
        assert await expiring.count_documents({"_id": "kept"}) == 1
    finally:
        await client.close()
