"""Thousands of idle, authenticated WebSockets on one gateway, to measure what each one costs;
and the services' idle RSS alone, as `bench.run` reads it, several times over:

    .venv/bin/python -m bench.idle --runs 3     # one JSON line per fresh stack, MiB

Their devices are written straight into the gateway's database and their access tokens signed
with the stack's key: registering 5,000 devices through the API would take the embedded store
longer than the whole run, and an idle socket costs the same however its device was made.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient

from bench.procstat import Sampler
from bench.stack import SERVICES, local_stack
from services.gateway.model.records import Device
from services.gateway.security.tokens import Claims, TokenSigner, load_key


async def seed_devices(mongo_url: str, database: str, account_id: str, count: int) -> list[str]:
    """`count` active devices of `account_id`, inserted in batches."""
    now = datetime.now(UTC)
    ids = [f"idle{uuid.uuid4().hex[:20]}" for _ in range(count)]
    docs = [
        Device(
            device_id=d,
            account_id=account_id,
            name="idle",
            identity_key=os.urandom(32),
            kx_key=os.urandom(32),
            kx_signature=os.urandom(64),
            created_at=now,
            last_seen_at=now,
        ).to_doc()
        for d in ids
    ]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        devices = client[database]["devices"]
        for i in range(0, len(docs), 500):
            await devices.insert_many(docs[i : i + 500], ordered=False)
    finally:
        await client.close()
    return ids


def tokens(key_file: Path, account_id: str, role: str, device_ids: list[str]) -> list[str]:
    signer = TokenSigner(current=load_key(key_file), previous=[])
    expires = int(time.time()) + 290
    return [signer.issue(Claims(account_id, d, role, 1, expires)) for d in device_ids]


class IdleSockets:
    """Open sockets that only answer pings (aiohttp's client does while it reads)."""

    def __init__(self) -> None:
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.failed = 0

    async def open(self, ws_url: str, access_tokens: list[str], parallel: int = 4) -> float:
        """Connect all; returns the seconds it took."""
        gate = asyncio.Semaphore(parallel)
        started = time.monotonic()

        async def one(token: str) -> None:
            async with gate:
                try:
                    ws = await self.http.ws_connect(
                        ws_url, headers={"Authorization": f"Bearer {token}"}
                    )
                    first = await ws.receive_json(timeout=60)
                except (aiohttp.ClientError, TimeoutError, ValueError):
                    self.failed += 1
                    return
                if first.get("type") != "ready":
                    self.failed += 1
                    return
                self.sockets.append(ws)
                self.tasks.append(asyncio.create_task(self._read(ws)))

        await asyncio.gather(*(one(t) for t in access_tokens))
        return time.monotonic() - started

    @staticmethod
    async def _read(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for _ in ws:
            pass

    @property
    def open_count(self) -> int:
        return sum(1 for ws in self.sockets if not ws.closed)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        await self.http.close()


SETTLE_SECONDS = 2.0  # what `bench.run` waits after start-up before it reads idle RSS
MIB = 1024 * 1024


def idle_rss() -> dict[str, float]:
    """A fresh local stack's services' RSS (MiB) once started and settled, and their sum."""
    with tempfile.TemporaryDirectory() as tmp, local_stack(Path(tmp)) as target:
        time.sleep(SETTLE_SECONDS)
        snapshot = Sampler({s: target.pids[s] for s in SERVICES[:3]}).snapshot()
    rss = {name: round(value / MIB, 1) for name, value in snapshot.rss.items()}
    return {**rss, "services": round(sum(rss.values()), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the services' idle RSS, bench.run's way")
    parser.add_argument("--runs", type=int, default=3, help="fresh stacks, one after another")
    args = parser.parse_args(argv)
    for _ in range(args.runs):
        sys.stdout.write(json.dumps(idle_rss()) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
