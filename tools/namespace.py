"""Remove a throw-away stack's broker topology (tests, `make demo`, `make bench`).

Every durable queue a namespace's services declare — command shards, event queues, RPC queues,
push retry delay queues — and its exchanges. A leftover quorum queue costs the broker dearly:
enough of them (one set per bench run) wedged the local RabbitMQ.
"""

from __future__ import annotations

import aio_pika
import aiormq

from services.notification.settings import NotificationSettings, parse_delays
from shared.rpc import rpc_queue
from shared.topology import EVERYTHING, Topology, queue_specs
from shared.urls import amqp_nodes


async def connect_any(amqp_url: str, timeout: float = 10.0) -> aio_pika.abc.AbstractConnection:
    """A plain connection to the first node of `amqp_url` (one node or several) that answers."""
    failure: Exception | None = None
    for node in amqp_nodes(amqp_url):
        try:
            return await aio_pika.connect(node, timeout=timeout)
        except (OSError, aiormq.exceptions.AMQPError) as error:
            failure = error
    raise ConnectionError(f"no broker node answered: {type(failure).__name__}")


async def drop_namespace(
    amqp_url: str, namespace: str, command_shards: int, push_retry_delays: str | None = None
) -> None:
    """`push_retry_delays`: the stack's HAVEN_PUSH_RETRY_DELAYS where it set one (its delay
    queues are named after them); the default ones are deleted either way."""
    names = Topology(namespace=namespace, command_shards=command_shards)
    delays = set(NotificationSettings().push_retry_delays_ms)
    if push_retry_delays is not None:
        delays |= set(parse_delays(push_retry_delays))
    connection = await connect_any(amqp_url)
    async with connection:
        channel = await connection.channel()
        for spec in queue_specs(names):
            await channel.queue_delete(spec.name)
        for delay_ms in sorted(delays):
            await channel.queue_delete(names.push_delay_queue(delay_ms))
        for service in ("messaging", "notification"):
            await channel.queue_delete(rpc_queue(names, service))
        for base in EVERYTHING:
            await channel.exchange_delete(names.name(f"haven.{base}"))
