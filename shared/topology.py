"""The AMQP topology of DESIGN.md: names, arguments and one idempotent declaration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aio_pika
import aiormq
import structlog
from aio_pika.abc import AbstractChannel, AbstractExchange, ExchangeType

from shared.commands import BATCH_TYPE, COMMAND_TYPES

log = structlog.get_logger(__name__)

# The services that consume `haven.events`, each through its own durable queue. Which events
# reach it is its own business: it binds the types of its handler map when it starts consuming
# (`shared.consumers.consume_events`); here only the queue is named, for declaration and cleanup.
EVENT_CONSUMERS = ("messaging", "notification")
# The routing key of the push work queue on `haven.push` (its delay queues dead-letter to it).
PUSH_WORK_KEY = "push"
PUSH_DELAY_QUEUE_SPARE_MS = 30 * 60 * 1000
# Quorum queues get three replicas (RabbitMQ caps it at the cluster's size: one on a single
# node). The replicas are chosen when a queue is declared, among the nodes running then.
REPLICAS = 3
GROUP_SIZE_ARG = "x-quorum-initial-group-size"


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
            args |= self.replicated() | {
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
                # Only a crash loop on one message gets near this; rejects dead-letter at once.
                "x-delivery-limit": 50,
            }
        if single_active_consumer:
            args["x-single-active-consumer"] = True
        return args

    def replicated(self) -> dict[str, Any]:
        """What makes a queue a quorum queue on `REPLICAS` nodes (nothing on an old broker)."""
        if not self.quorum:
            return {}
        return {"x-queue-type": "quorum", GROUP_SIZE_ARG: REPLICAS}


Arguments = dict[str, Any]


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
            # A batch's key is bound only by a messaging that reads batches: until one did,
            # a gateway's batch comes back unroutable and goes as lone commands instead.
            tuple((topology.commands, f"{kind}.{shard}") for kind in (*COMMAND_TYPES, BATCH_TYPE)),
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
    return topology.replicated() | arguments


async def declare_dead_letters(
    connection: aio_pika.abc.AbstractConnection, topology: Topology
) -> bool:
    """Declare `haven.dead` and its bounded queue on channels of their own; False (logged)
    when the queue exists with other arguments (an upgrade: it is bound and used as it is)."""
    spec = next(s for s in queue_specs(topology) if s.name == topology.dead_letters_queue)
    channel = await _scratch_channel(connection)
    try:
        await channel.declare_exchange(topology.dead, ExchangeType.FANOUT, durable=True)
    finally:
        await _close(channel)
    if await settle(connection, spec, quiet=True) is None:
        log.warning(
            "dead_letters_queue_unbounded",
            queue=spec.name,
            hint="it predates its retention arguments; apply the policy in docs/deploy.md",
        )
        return False
    return True


async def settle(
    connection: aio_pika.abc.AbstractConnection, spec: QueueSpec, *, quiet: bool = False
) -> Arguments | None:
    """Declare `spec`'s queue and bindings on channels of their own; the arguments to declare
    it with on long-lived channels (which re-declare it after a reconnect), or None: passively.

    RabbitMQ refuses to re-declare a queue with other arguments than it has, so a queue an
    older Haven declared — a quorum queue without its replication factor, a classic RPC or
    retry delay queue — would stop the service. Instead it is used as it is: without the
    replication factor if that is the only difference, else passively, with a warning (unless
    `quiet`: the caller says more) naming docs/deploy.md's way to replace it.
    """
    tries: list[Arguments | None] = [spec.arguments]
    if GROUP_SIZE_ARG in spec.arguments:
        tries.append({k: v for k, v in spec.arguments.items() if k != GROUP_SIZE_ARG})
    tries.append(None)
    for arguments in tries:
        channel = await _scratch_channel(connection)
        try:
            if arguments is None:
                queue = await channel.declare_queue(spec.name, passive=True)
            else:
                queue = await channel.declare_queue(spec.name, durable=True, arguments=arguments)
            for exchange, key in spec.bindings:
                await queue.bind(exchange, routing_key=key)
        except aio_pika.exceptions.ChannelPreconditionFailed:
            continue
        finally:
            await _close(channel)
        if arguments is None and not quiet:
            log.warning(
                "queue_kept_as_it_was",
                queue=spec.name,
                hint="declared by an older Haven; docs/deploy.md says how to replace it",
            )
        return arguments
    raise AssertionError("a passive declaration never fails a precondition")


async def _scratch_channel(connection: aio_pika.abc.AbstractConnection) -> aio_pika.Channel:
    """A plain channel (never restored behind our back) that a refused declaration may close."""
    channel = aio_pika.Channel(connection, publisher_confirms=False)
    await channel.initialize()
    return channel


async def _close(channel: aio_pika.Channel) -> None:
    if channel.is_closed:
        return
    try:
        await channel.close()
    except (aio_pika.exceptions.AMQPError, aiormq.exceptions.AMQPError):
        log.debug("scratch_channel_close_failed")


def push_delay_spec(topology: Topology, delay_ms: int) -> QueueSpec:
    """A retry delay queue: nobody consumes it; each job waits `delay_ms` and is dead-lettered
    back to the push work queue (TTL + dead-letter, never a sleep).

    The delays are notification's setting, so notification declares these, not `declare`, and
    re-declares them every minute: they are durable (quorum: they hold jobs, and must survive a
    broker node) queues with `x-expires`, which remove themselves once no notification replica
    has declared them for `delay_ms` plus half an hour (no job can still be waiting in one by
    then). So changing the delays, or a test's namespace, leaves nothing behind in the broker.
    """
    arguments: dict[str, Any] = topology.replicated() | {
        "x-message-ttl": delay_ms,
        "x-dead-letter-exchange": topology.push,
        "x-dead-letter-routing-key": PUSH_WORK_KEY,
        "x-expires": delay_ms + PUSH_DELAY_QUEUE_SPARE_MS,
    }
    if topology.quorum:  # expired jobs reach the work queue even while it elects a leader
        arguments |= {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
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


async def declare_exchanges(
    channel: AbstractChannel, topology: Topology, owner: str | None = None
) -> dict[str, AbstractExchange]:
    """Declare `owner`'s exchanges (None: all of them) on `channel`, which re-declares them
    after a reconnect; safe to run by every replica."""
    kinds = {
        "commands": ExchangeType.DIRECT,
        "events": ExchangeType.TOPIC,
        "deliveries": ExchangeType.TOPIC,
        "rpc": ExchangeType.DIRECT,
        "dead": ExchangeType.FANOUT,
        "push": ExchangeType.DIRECT,
    }
    wanted = EXCHANGES_OF.get(owner, EVERYTHING) if owner is not None else EVERYTHING
    return {
        topology.name(f"haven.{base}"): await channel.declare_exchange(
            topology.name(f"haven.{base}"), kinds[base], durable=True
        )
        for base in wanted
    }


async def declare_queues(
    connection: aio_pika.abc.AbstractConnection, topology: Topology, owner: str | None = None
) -> dict[str, Arguments | None]:
    """Declare `owner`'s durable queues and bindings (None: all of them), after its exchanges;
    what each is to be declared with on a consumer's channel (`settle`)."""
    return {
        spec.name: await settle(connection, spec)
        for spec in owned_queue_specs(topology, owner)
        if spec.name != topology.dead_letters_queue  # `declare_dead_letters`
    }


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
