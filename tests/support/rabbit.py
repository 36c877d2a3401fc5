"""Broker administration for tests: force-close this test's connections only, and read what
its queues still hold."""

from __future__ import annotations

import asyncio
import re
import subprocess

import aio_pika

from shared.topology import Topology, queue_specs
from tools import broker

_NAME = re.compile(r'\{"connection_name","([^"]*)"\}')


async def close_connections(prefix: str) -> int:
    """Close every connection whose connection_name starts with `prefix` (a test namespace)."""
    listing = await asyncio.to_thread(
        subprocess.run,
        ["rabbitmqctl", "-q", "list_connections", "--no-table-headers", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
    )
    pids = []
    for line in listing.stdout.splitlines():
        match = _NAME.search(line)
        if match and match.group(1).startswith(prefix):
            pids.append(line.split("\t")[0])
    for pid in pids:
        await asyncio.to_thread(
            subprocess.run,
            ["rabbitmqctl", "close_connection", pid, "test: forced reconnect"],
            capture_output=True,
            check=True,
        )
    return len(pids)


async def queued_bodies(namespace: str, command_shards: int = 2) -> list[str]:
    """Every message still in the namespace's durable queues (dead letters included), read
    without consuming it for good: quorum queues with a single active consumer refuse
    basic.get, so this consumes without acking, and closing the connection puts it all back."""
    bodies: list[str] = []
    connection = await aio_pika.connect(broker.DEFAULT_URL)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        for spec in queue_specs(Topology(namespace=namespace, command_shards=command_shards)):
            queue = await channel.declare_queue(spec.name, passive=True)

            async def keep(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                bodies.append(message.body.decode(errors="replace"))

            tag = await queue.consume(keep)
            await asyncio.sleep(0.3)
            await queue.cancel(tag)
    return bodies
