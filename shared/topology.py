"""The AMQP topology of DESIGN.md: names, arguments and one idempotent declaration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractExchange, ExchangeType

from shared.commands import COMMAND_TYPES

log = structlog.get_logger(__name__)

# The services that consume `haven.events`, each through its own durable queue. Which events
# reach it is its own business: it binds the types of its handler map when it starts consuming
# (`shared.consumers.consume_events`); here only the queue is named, for declaration and cleanup.
EVENT_CONSUMERS = ("messaging", "notification")
# The routing key of the push work queue on `haven.push` (its delay queues dead-letter to it).
PUSH_WORK_KEY = "push"
PUSH_DELAY_QUEUE_SPARE_MS = 30 * 60 * 1000


@dataclass(frozen=True)
class Topology:
    """Every name derives from one optional namespace, so tests never share a queue."""

    namespace: str = ""
    command_shards: int = 8
    quorum: bool = True
    # Dead letters are kept for inspection this long, and at most this many (the oldest go
    # first): they may hold ciphertext of refused sends, which must not stay forever.
    dead_letter_ttl_ms: int = 14 * 24 * 3600 * 1000
    dead_letter_max: int = 100_000

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

    @property
    def push(self) -> str:
        """notification's push jobs: the work queue and the retry delay queues hang off it."""
        return self.name("haven.push")

    @property
    def push_queue(self) -> str:
        return self.name("notification.push")

    def push_delay_queue(self, delay_ms: int) -> str:
        return self.name(f"notification.push.delay.{delay_ms}")

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
    """Every durable queue of the system, with its arguments and the bindings every service
    declares (an events queue's bindings are its consumer's)."""
    specs = [
        QueueSpec(
            topology.dead_letters_queue, dead_letter_arguments(topology), ((topology.dead, ""),)
        )
    ]
    specs += [
        QueueSpec(
            topology.command_queue(shard),
            topology.durable_arguments(single_active_consumer=True),
            tuple((topology.commands, f"{kind}.{shard}") for kind in COMMAND_TYPES),
        )
        for shard in range(topology.command_shards)
    ]
    specs += [
        QueueSpec(topology.events_queue(service), topology.durable_arguments(), ())
        for service in EVENT_CONSUMERS
    ]
    specs.append(
        QueueSpec(
            topology.push_queue, topology.durable_arguments(), ((topology.push, PUSH_WORK_KEY),)
        )
    )
    return specs


def dead_letter_arguments(topology: Topology) -> dict[str, Any]:
    """Bounded: `x-message-ttl` and `x-max-length` (dropping the oldest). RabbitMQ refuses to
    re-declare a queue with other arguments, so a broker that still has the queue from before
    these bounds keeps it as it is (`declare_dead_letters`); docs/deploy.md shows the policy
    that bounds it there."""
    arguments: dict[str, Any] = {
        "x-message-ttl": topology.dead_letter_ttl_ms,
        "x-max-length": topology.dead_letter_max,
        "x-overflow": "drop-head",
    }
    return ({"x-queue-type": "quorum"} if topology.quorum else {}) | arguments


async def declare_dead_letters(
    connection: aio_pika.abc.AbstractConnection, topology: Topology
) -> bool:
    """Declare `haven.dead` and its bounded queue on channels of their own; False (logged)
    when the queue exists with other arguments (an upgrade: it is bound and used as it is)."""
    spec = next(s for s in queue_specs(topology) if s.name == topology.dead_letters_queue)
    channel = await connection.channel()
    try:
        exchange = await channel.declare_exchange(topology.dead, ExchangeType.FANOUT, durable=True)
        queue = await channel.declare_queue(spec.name, durable=True, arguments=spec.arguments)
        await queue.bind(exchange, routing_key="")
    except aio_pika.exceptions.ChannelPreconditionFailed:
        log.warning(
            "dead_letters_queue_unbounded",
            queue=spec.name,
            hint="it predates its retention arguments; apply the policy in docs/deploy.md",
        )
        return False
    finally:
        if not channel.is_closed:
            await channel.close()
    return True


def push_delay_spec(topology: Topology, delay_ms: int) -> QueueSpec:
    """A retry delay queue: nobody consumes it; each job waits `delay_ms` and is dead-lettered
    back to the push work queue (TTL + dead-letter, never a sleep).

    The delays are notification's setting, so notification declares these, not `declare`, and
    re-declares them every minute: they are classic durable queues with `x-expires`, which
    remove themselves once no notification replica has declared them for `delay_ms` plus
    half an hour (no job can still be waiting in one by then). So changing the delays, or a
    test's namespace, leaves nothing behind in the broker.
    """
    arguments: dict[str, Any] = {
        "x-message-ttl": delay_ms,
        "x-dead-letter-exchange": topology.push,
        "x-dead-letter-routing-key": PUSH_WORK_KEY,
        "x-expires": delay_ms + PUSH_DELAY_QUEUE_SPARE_MS,
    }
    return QueueSpec(
        topology.push_delay_queue(delay_ms), arguments, ((topology.push, push_delay_key(delay_ms)),)
    )


def push_delay_key(delay_ms: int) -> str:
    return f"delay.{delay_ms}"


# What each service declares at start: the exchanges it publishes to or binds from, and the
# durable queues it consumes (dead letters: both services whose work can end there). So each
# service's broker user needs permissions on its own part only (services/broker_users.py).
EXCHANGES_OF = {
    "gateway": ("commands", "events", "deliveries", "rpc"),
    "messaging": ("commands", "events", "deliveries", "rpc", "dead"),
    "notification": ("events", "deliveries", "rpc", "push", "dead"),
}
EVERYTHING = ("commands", "events", "deliveries", "rpc", "dead", "push")


def declares_dead_letters(owner: str | None) -> bool:
    """Only the services whose work can be dead-lettered declare (and may configure) it."""
    return owner is None or owner in ("messaging", "notification")


def owned_queue_specs(topology: Topology, owner: str | None) -> list[QueueSpec]:
    """The durable queues `owner` declares (None: all of them, for tests and tools)."""
    specs = queue_specs(topology)
    if owner is None:
        return specs
    mine = {
        "gateway": set[str](),
        "messaging": {topology.dead_letters_queue, topology.events_queue("messaging")}
        | {topology.command_queue(k) for k in range(topology.command_shards)},
        "notification": {
            topology.dead_letters_queue,
            topology.events_queue("notification"),
            topology.push_queue,
        },
    }.get(owner, set())
    return [spec for spec in specs if spec.name in mine]


async def declare(
    channel: AbstractChannel, topology: Topology, owner: str | None = None
) -> dict[str, AbstractExchange]:
    """Declare `owner`'s exchanges, durable queues and bindings (None: the whole topology);
    safe to run by every replica."""
    kinds = {
        "commands": ExchangeType.DIRECT,
        "events": ExchangeType.TOPIC,
        "deliveries": ExchangeType.TOPIC,
        "rpc": ExchangeType.DIRECT,
        "dead": ExchangeType.FANOUT,
        "push": ExchangeType.DIRECT,
    }
    wanted = EXCHANGES_OF.get(owner, EVERYTHING) if owner is not None else EVERYTHING
    exchanges = {
        topology.name(f"haven.{base}"): await channel.declare_exchange(
            topology.name(f"haven.{base}"), kinds[base], durable=True
        )
        for base in wanted
    }
    for spec in owned_queue_specs(topology, owner):
        if spec.name == topology.dead_letters_queue:
            continue  # `declare_dead_letters`, first: its arguments may predate its bounds
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
