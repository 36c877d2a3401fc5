"""Broker administration for tests: force-close this test's connections only, and read what
its queues still hold."""

from __future__ import annotations

import asyncio
import contextlib
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
    await asyncio.gather(  # each rabbitmqctl is an Erlang VM of its own: side by side
        *(
            asyncio.to_thread(
                subprocess.run,
                ["rabbitmqctl", "close_connection", pid, "test: forced reconnect"],
                capture_output=True,
                check=True,
            )
            for pid in pids
        )
    )
    return len(pids)


# Longest wait for a queue's ready messages: they come at once unless a service's consumer is
# the queue's active one (then they are that service's, and this one gets none of them).
DELIVERY_WAIT = 2.0


async def queued_bodies(namespace: str, command_shards: int = 2) -> list[str]:
    """Every message ready in the namespace's durable queues (dead letters included), read
    without consuming it for good: quorum queues with a single active consumer refuse
    basic.get, so this consumes without acking, and closing the connection puts it all back.
    A queue is read until it delivered as many as its declaration counted ready."""
    bodies: list[str] = []
    connection = await aio_pika.connect(broker.DEFAULT_URL)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        for spec in queue_specs(Topology(namespace=namespace, command_shards=command_shards)):
            queue = await channel.declare_queue(spec.name, passive=True)
            ready = queue.declaration_result.message_count or 0
            if ready == 0:
                continue
            bodies += await _read(queue, ready)
    return bodies


async def _read(queue: aio_pika.abc.AbstractQueue, ready: int) -> list[str]:
    """The bodies of the `ready` messages `queue` holds, left unacknowledged."""
    got: list[str] = []
    all_here = asyncio.Event()

    async def keep(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        got.append(message.body.decode(errors="replace"))
        if len(got) >= ready:
            all_here.set()

    tag = await queue.consume(keep)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_here.wait(), DELIVERY_WAIT)
    await queue.cancel(tag)
    return got
