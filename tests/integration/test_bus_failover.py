"""The bus with several broker nodes in HAVEN_AMQP_URL, against the real broker: it passes over
a node that does not answer, and after losing its connection it comes back (trying the nodes
in turn) with its consumers restored. Losing a real node of a real cluster is
tests/cluster/'s."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit, urlunsplit

from shared.bus import Bus, Delivery
from shared.topology import Topology
from shared.urls import node_address
from tests.support.rabbit import close_connections
from tools.infra import Infra


def dead_node(url: str) -> str:
    """`url` on a loopback port where nothing listens: a node that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[0] + f"@127.0.0.1:{port}" if "@" in parts.netloc else ""
    return urlunsplit((parts.scheme, netloc or f"127.0.0.1:{port}", *parts[2:]))


async def test_the_bus_passes_over_a_dead_node_and_comes_back_after_a_lost_connection(
    infra: Infra, clean_broker: Topology
) -> None:
    name = f"{clean_broker.namespace}failover"
    bus = Bus(f"{dead_node(infra.amqp_url)},{infra.amqp_url}", clean_broker, name)
    got: asyncio.Queue[Delivery] = asyncio.Queue()

    async def handler(delivery: Delivery) -> None:
        await got.put(delivery)

    async def probe(n: int) -> Delivery:
        await bus.publish(
            clean_broker.events, "ops.probed", b"{}", message_id=f"p{n}", message_type="ops.probed"
        )
        return await asyncio.wait_for(got.get(), 10)

    await asyncio.wait_for(bus.start(), 30)
    try:
        assert bus.node == node_address(infra.amqp_url)
        await bus.consume(
            clean_broker.events_queue("messaging"),
            handler,
            bindings=[(clean_broker.events, "ops.probed")],
        )
        assert (await probe(1)).message_id == "p1"

        assert await close_connections(name) == 1
        async with asyncio.timeout(30):
            while bus.ready:
                await asyncio.sleep(0.05)
            while not bus.ready:
                await asyncio.sleep(0.05)
        assert bus.node == node_address(infra.amqp_url)
        assert (await probe(2)).message_id == "p2"  # the consumer came back with the connection
    finally:
        await bus.close(2.0)
