"""The AMQP topology of DESIGN.md: names, arguments and one idempotent declaration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, ExchangeType

COMMAND_KINDS = ("message.send", "message.delete", "receipt.read")

# Event routing keys each consuming service subscribes to.
MESSAGING_EVENTS = ("relationship.created", "relationship.ended", "account.deleted", "ops.probed")
NOTIFICATION_EVENTS = (
    "message.stored",
    "message.deleted",
    "receipt.read",
    "relationship.created",
    "relationship.ended",
    "device.added",
    "device.removed",
    "device.updated",
    "account.deleted",
    "message.rejected",
    "delivery.failed",
    "ops.probed",
)


@dataclass(frozen=True)
class Topology:
    """Every name derives from one optional namespace, so tests never share a queue."""

    namespace: str = ""
    command_shards: int = 8
    quorum: bool = True

    def name(self, base: str) -> str:
        return f"{self.namespace}{base}"

    @property
    def commands(self) -> str:
        return self.name("haven.commands")

    @property
    def events(self) -> str:
        return self.name("haven.events")

    @property
    def deliveries(self) -> str:
        return self.name("haven.deliveries")

    @property
    def rpc(self) -> str:
        return self.name("haven.rpc")

    @property
    def dead(self) -> str:
        return self.name("haven.dead")

    def command_queue(self, shard: int) -> str:
        return self.name(f"messaging.commands.{shard}")

    def events_queue(self, service: str) -> str:
        return self.name(f"{service}.events")

    @property
    def dead_letters_queue(self) -> str:
        return self.name("haven.dead.letters")

    def durable_arguments(self, *, single_active_consumer: bool = False) -> dict[str, Any]:
        args: dict[str, Any] = {"x-dead-letter-exchange": self.dead}
        if self.quorum:
            args |= {
                "x-queue-type": "quorum",
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
                # Only a crash loop on one message gets near this; rejects dead-letter at once.
                "x-delivery-limit": 50,
            }
        if single_active_consumer:
            args["x-single-active-consumer"] = True
        return args


@dataclass(frozen=True)
class QueueSpec:
    name: str
    arguments: dict[str, Any]
    bindings: tuple[tuple[str, str], ...]  # (exchange, routing key)


def queue_specs(topology: Topology) -> list[QueueSpec]:
    """Every durable queue of the system, with its arguments and bindings."""
    specs = [
        QueueSpec(
            topology.dead_letters_queue,
            {"x-queue-type": "quorum"} if topology.quorum else {},
            ((topology.dead, ""),),
        )
    ]
    specs += [
        QueueSpec(
            topology.command_queue(shard),
            topology.durable_arguments(single_active_consumer=True),
            tuple((topology.commands, f"{kind}.{shard}") for kind in COMMAND_KINDS),
        )
        for shard in range(topology.command_shards)
    ]
    specs += [
        QueueSpec(
            topology.events_queue(service),
            topology.durable_arguments(),
            tuple((topology.events, key) for key in keys),
        )
        for service, keys in (
            ("messaging", MESSAGING_EVENTS),
            ("notification", NOTIFICATION_EVENTS),
        )
    ]
    return specs


async def declare(channel: AbstractChannel, topology: Topology) -> dict[str, AbstractExchange]:
    """Declare exchanges, durable queues and bindings; safe to run by every replica."""
    kinds = {
        topology.commands: ExchangeType.DIRECT,
        topology.events: ExchangeType.TOPIC,
        topology.deliveries: ExchangeType.TOPIC,
        topology.rpc: ExchangeType.DIRECT,
        topology.dead: ExchangeType.FANOUT,
    }
    exchanges = {
        name: await channel.declare_exchange(name, kind, durable=True)
        for name, kind in kinds.items()
    }
    for spec in queue_specs(topology):
        queue = await channel.declare_queue(spec.name, durable=True, arguments=spec.arguments)
        for exchange, key in spec.bindings:
            await queue.bind(exchanges[exchange], routing_key=key)
    return exchanges


def broker_supports_quorum(connection: aio_pika.abc.AbstractConnection) -> bool:
    """Quorum queues need RabbitMQ 3.8+; older brokers get classic durable queues."""
    transport = connection.transport
    if transport is None:
        return True
    props = transport.connection.server_properties or {}
    raw = props.get("version", b"3.8.0")
    version = raw.decode() if isinstance(raw, bytes) else str(raw)
    major, minor, *_ = (int(part) for part in [*version.split(".")[:2], "0"])
    return (major, minor) >= (3, 8)
