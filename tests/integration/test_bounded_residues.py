"""Dead letters must not grow without bound, against the real broker: they expire, and a
dead-letter queue declared before its bounds existed still lets the services start."""

from __future__ import annotations

import asyncio
import dataclasses

import aio_pika

from shared.bus import Bus
from shared.topology import Topology, declare_dead_letters
from tools.infra import Infra


async def queued(amqp_url: str, queue: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


async def test_dead_letters_expire(infra: Infra, clean_broker: Topology) -> None:
    topology = dataclasses.replace(clean_broker, dead_letter_ttl_ms=1000)
    bus = Bus(infra.amqp_url, topology, "test-dead-letters")
    await bus.start()
    try:
        await bus.publish(
            topology.dead,
            "",
            b'{"a": "refused send"}',
            message_id="dl-1",
            message_type="message.send",
        )
        async with asyncio.timeout(10):
            while await queued(infra.amqp_url, topology.dead_letters_queue) != 1:
                await asyncio.sleep(0.1)
            while await queued(infra.amqp_url, topology.dead_letters_queue) != 0:
                await asyncio.sleep(0.2)
    finally:
        await bus.close(2.0)


async def test_a_dead_letter_queue_from_before_its_bounds_still_starts(
    infra: Infra, clean_broker: Topology
) -> None:
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(
            clean_broker.dead_letters_queue, durable=True, arguments={"x-queue-type": "quorum"}
        )
        assert not await declare_dead_letters(connection, clean_broker)
    bus = Bus(infra.amqp_url, clean_broker, "test-dead-letters-upgrade")
    await bus.start()  # no PRECONDITION_FAILED: the old queue is used as it is
    try:
        assert bus.ready
    finally:
        await bus.close(2.0)
