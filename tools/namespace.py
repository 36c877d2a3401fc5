"""Remove a throw-away stack's broker topology (tests, `make demo`, `make bench`).

Every durable queue a namespace's services declare — command shards, event queues, RPC queues,
push retry delay queues — and its exchanges. A leftover quorum queue costs the broker dearly:
enough of them (one set per bench run) wedged the local RabbitMQ.
"""

from __future__ import annotations

import aio_pika

from services.notification.settings import NotificationSettings
from shared.rpc import rpc_queue
from shared.topology import EVERYTHING, Topology, queue_specs


async def drop_namespace(amqp_url: str, namespace: str, command_shards: int) -> None:
    names = Topology(namespace=namespace, command_shards=command_shards)
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for spec in queue_specs(names):
            await channel.queue_delete(spec.name)
        # The delays follow notification's setting; the defaults are what a stack without an
        # override declares.
        for delay_ms in NotificationSettings().push_retry_delays_ms:
            await channel.queue_delete(names.push_delay_queue(delay_ms))
        for service in ("messaging", "notification"):
            await channel.queue_delete(rpc_queue(names, service))
        for base in EVERYTHING:
            await channel.exchange_delete(names.name(f"haven.{base}"))
