"""What the building blocks allow on this machine, measured in the same run as the workloads."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from typing import Any

import aio_pika
import aiohttp
import nacl.signing
from pymongo import AsyncMongoClient

from tools.processes import free_port, port_open, spawn, wait_until

# How many times one delivered message uses each block on the path (see docs/PERFORMANCE.md):
# confirmed publishes: the gateway's command and messaging's delivery to the recipient device
# (at most: commands that arrive while their shard's publish is in flight share one message,
# as do a device's deliveries of one batch; the batch's one event message is not counted);
# store inserts: the message document; HTTP: the send; Ed25519: the envelope and the token.
USES_PER_MESSAGE = {"publish": 2, "insert": 1, "http": 1, "verify": 2}


async def confirmed_publish(amqp_url: str, count: int = 3000, window: int = 64) -> float:
    """Persistent, confirmed publishes to a quorum queue with `window` outstanding."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        name = f"bench.ceiling.{uuid.uuid4().hex[:8]}"
        queue = await channel.declare_queue(
            name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        body = os.urandom(700)
        gate = asyncio.Semaphore(window)

        async def one(i: int) -> None:
            async with gate:
                await channel.default_exchange.publish(
                    aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=name,
                )

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        elapsed = time.perf_counter() - started
        await queue.delete(if_unused=False, if_empty=False)
        return count / elapsed
    finally:
        await connection.close()


async def insert_many(mongo_url: str, count: int = 2000, batch: int = 64) -> float:
    """Message-sized documents inserted in batches, as messaging stores them."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        collection = client[f"bench_ceiling_{uuid.uuid4().hex[:8]}"]["messages"]
        payload = os.urandom(700)
        docs = [
            {"_id": f"c:{i}", "conversation_id": "c", "seq": i, "envelope": payload}
            for i in range(count)
        ]
        started = time.perf_counter()
        for i in range(0, count, batch):
            await collection.insert_many(docs[i : i + batch], ordered=False)
        elapsed = time.perf_counter() - started
        await client.drop_database(collection.database.name)
        return count / elapsed
    finally:
        await client.close()


SERVER = """
import sys
from aiohttp import web
async def echo(request):
    body = await request.json()
    return web.json_response({"ok": True, "n": len(body)}, status=202)
app = web.Application()
app.router.add_post("/", echo)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


async def aiohttp_json(seconds: float = 3.0, in_flight: int = 16) -> float:
    """A minimal aiohttp JSON endpoint in its own process, driven by an aiohttp client."""
    port = free_port()
    server = spawn([sys.executable, "-c", SERVER, str(port)], os.environ)
    try:
        wait_until(lambda: port_open(port), 30, "ceiling server")
        body = b'{"envelope": "' + b"x" * 700 + b'"}'
        done = 0
        async with aiohttp.ClientSession() as http:
            deadline = time.perf_counter() + seconds
            started = time.perf_counter()

            async def worker() -> None:
                nonlocal done
                while time.perf_counter() < deadline:
                    async with http.post(
                        f"http://127.0.0.1:{port}/",
                        data=body,
                        headers={"Content-Type": "application/json"},
                    ) as reply:
                        await reply.read()
                    done += 1

            await asyncio.gather(*(worker() for _ in range(in_flight)))
            return done / (time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait()


def ed25519_verify(seconds: float = 1.0) -> float:
    key = nacl.signing.SigningKey.generate()
    signed = key.sign(os.urandom(200))
    verify = key.verify_key.verify
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(200):
            verify(signed)
        done += 200
    return done / (time.perf_counter() - started)


async def measure_all(amqp_url: str, mongo_url: str, scale: float = 1.0) -> dict[str, float]:
    """Each ceiling in operations per second (`scale` shortens them for a quick run)."""
    return {
        "publish": round(await confirmed_publish(amqp_url, int(3000 * scale)), 1),
        "insert": round(await insert_many(mongo_url, int(2000 * scale)), 1),
        "http": round(await aiohttp_json(3.0 * scale), 1),
        "verify": round(ed25519_verify(1.0 * scale), 1),
    }


def ratios(delivered_per_s: float, ceilings: dict[str, float]) -> dict[str, float]:
    """Delivered/s as a share of what each block allows per message (its ceiling ÷ uses)."""
    return {
        name: round(delivered_per_s * USES_PER_MESSAGE[name] / value, 3)
        for name, value in ceilings.items()
        if value
    }
