"""The bus against the real broker where a cluster changed what it declares and how it fails:
queues an older Haven declared (quorum without the replication factor, a classic RPC queue)
are used as they are, and a publish the broker refuses moves publishing to a new channel."""

from __future__ import annotations

import asyncio
from typing import Any

import aio_pika
from structlog.testing import capture_logs

from shared.bus import Bus
from shared.errors import UnavailableError
from shared.rpc import RpcClient, rpc_queue
from shared.rpc_server import serve_rpc
from shared.topology import GROUP_SIZE_ARG, QueueSpec, Topology, settle
from tools.infra import Infra


async def test_queues_an_older_haven_declared_are_kept_as_they_are(
    infra: Infra, clean_broker: Topology
) -> None:
    events = clean_broker.events_queue("messaging")
    before = {k: v for k, v in clean_broker.durable_arguments().items() if k != GROUP_SIZE_ARG}
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(events, durable=True, arguments=before)
        await channel.declare_queue(  # the classic RPC queue of before
            rpc_queue(clean_broker, "messaging"),
            durable=True,
            arguments={"x-message-ttl": 10_000, "x-expires": 60_000},
        )
    bus = Bus(infra.amqp_url, clean_broker, f"{clean_broker.namespace}upgrade")
    await bus.start()
    try:
        assert bus.connection is not None
        spec = QueueSpec(events, clean_broker.durable_arguments(), ())
        assert await settle(bus.connection, spec) == before  # without the replication factor

        async def ping(_: dict[str, Any]) -> dict[str, Any]:
            return {"pong": True}

        with capture_logs() as logs:
            await serve_rpc(bus, rpc_queue(clean_broker, "messaging"), {"ping": ping})
        assert any(line["event"] == "queue_kept_as_it_was" for line in logs)
        assert await RpcClient.of(bus).call("ping", {}) == {"pong": True}  # still answers
    finally:
        await bus.close(2.0)


async def test_a_refused_publish_moves_publishing_to_a_new_channel(
    infra: Infra, clean_broker: Topology
) -> None:
    """A queue that refuses everything (quorum, length 0, reject-publish) stands in for a
    quorum queue whose channel cannot reach its leader (RabbitMQ 3.10 after a node loss)."""
    full = clean_broker.name("refusing")
    bus = Bus(infra.amqp_url, clean_broker, f"{clean_broker.namespace}refusals")
    await bus.start()
    connection = await aio_pika.connect(infra.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            full,
            durable=True,
            arguments={"x-queue-type": "quorum", "x-max-length": 0, "x-overflow": "reject-publish"},
        )
        await queue.bind(clean_broker.events, "ops.probed")

        async def probe(n: int) -> None:
            await bus.publish(
                clean_broker.events,
                "ops.probed",
                b"{}",
                message_id=f"p{n}",
                message_type="x",
                mandatory=False,
            )

        with capture_logs() as logs:
            refused = None
            for n in range(20):  # the queue takes one message, then refuses once it knows
                try:
                    await probe(n)
                except UnavailableError as error:
                    refused = error
                    break
                await asyncio.sleep(0.1)
            assert refused is not None and "DeliveryError" in str(refused)
            async with asyncio.timeout(10):
                while not any(line["event"] == "publish_channel_renewed" for line in logs):
                    await asyncio.sleep(0.05)
        await queue.unbind(clean_broker.events, "ops.probed")
        await probe(100)  # the new channel publishes (and confirms) on the same exchanges
        assert bus.ready
    finally:
        cleanup = await connection.channel()
        await cleanup.queue_delete(full)
        await connection.close()
        await bus.close(2.0)
