"""aio-pika façade: one robust connection, confirmed publishing, structured consumption.

`Bus` is the connection, its channels and what is declared on them; the two halves of the work
live beside it, one concern each: confirmed publishing in `shared.bus_publish`, handlers and how
their outcome settles a message in `shared.bus_consume`. Services import all of it from here.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import aio_pika
import aiormq
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from shared import failover
from shared import topology as topo
from shared.bus_consume import Delivery, Handler, Handling
from shared.bus_publish import (
    CHANNEL_ERRORS,
    PUBLISH_TIMEOUT,
    SCHEMA_VERSION,
    Publisher,
    outgoing,
)
from shared.command_lanes import CommandLanes, EncodedCommand
from shared.commands import BATCH_TYPE, CommandBase, shard_for
from shared.errors import UnavailableError, UnroutableError
from shared.event_base import derive_event_id
from shared.events import EventBase

__all__ = [
    "CHANNEL_ERRORS",
    "PUBLISH_TIMEOUT",
    "SCHEMA_VERSION",
    "Bus",
    "Delivery",
    "Handler",
]

log = structlog.get_logger(__name__)


class Bus:
    """The service's only path to RabbitMQ."""

    def __init__(
        self,
        url: str,
        topology: topo.Topology,
        service: str,
        *,
        owner: str | None = None,
        shuffle: bool = True,
    ) -> None:
        """`url` names one broker node or several (`shared.urls`), tried in an order of this
        process's own unless not `shuffle`. `owner` (a service name) declares only that
        service's part of the topology, which its own broker user may configure; None declares
        everything (tests, tools)."""
        self._url = url
        self._shuffle = shuffle
        self.topology = topology
        self._service = service
        self._owner = owner
        self._closing = False
        self._connection: AbstractRobustConnection | None = None
        self._publisher: Publisher | None = None  # once started: the topology is known then
        self._handling = Handling(closing=lambda: self._closing)
        self._lanes = CommandLanes(self._publish_commands)
        self._arguments: dict[str, topo.Arguments | None] = {}
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._channels: list[AbstractChannel] = []
        self.declared = asyncio.Event()

    @property
    def ready(self) -> bool:
        connection = self._connection
        return (
            self.declared.is_set()
            and connection is not None
            and connection.connected.is_set()
            and not connection.is_closed
            and all(not channel.is_closed for channel in self._channels)
            and (self._publisher is None or self._publisher.is_open)
        )

    async def start(self) -> None:
        """Connect to a node of the cluster (retrying until one answers) and declare the
        topology; from then on the connection fails over between the nodes by itself."""
        self._connection = connection = await failover.connect(
            self._url, name=self._service, shuffle=self._shuffle
        )
        connection.reconnect_callbacks.add(self._on_reconnect)
        connection.close_callbacks.add(self._on_close)
        quorum = topo.broker_supports_quorum(connection)
        self.topology = dataclasses.replace(self.topology, quorum=quorum)
        if topo.declares_dead_letters(self._owner):
            await topo.declare_dead_letters(connection, self.topology)
        publisher = Publisher(
            connection=connection,
            topology=self.topology,
            owner=self._owner,
            closing=lambda: self._closing,
        )
        await publisher.open()
        self._publisher = publisher
        self._arguments = await topo.declare_queues(connection, self.topology, self._owner)
        self.declared.set()
        log.info("bus_ready", quorum=quorum, node=connection.node)

    @property
    def node(self) -> str | None:
        """``host:port`` of the broker node this process is connected to (or trying)."""
        return failover.connected_node(self._connection)

    def _on_reconnect(self, *_: object) -> None:
        log.info("bus_reconnected", node=self.node)

    def _on_close(self, *_: object) -> None:
        if not self._closing:
            log.warning("bus_connection_lost")

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        message_type: str,
        mandatory: bool = True,
        persistent: bool = True,
        timeout: float = PUBLISH_TIMEOUT,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Publish and wait for the broker's confirm (`shared.bus_publish`): UnavailableError
        if none comes in time, UnroutableError if a mandatory message reached no queue."""
        if not self.ready or self._publisher is None:
            raise UnavailableError("broker not connected")
        message = outgoing(
            body,
            message_id=message_id,
            message_type=message_type,
            persistent=persistent,
            headers=headers,
        )
        await self._publisher.publish(
            exchange, routing_key, message, mandatory=mandatory, timeout=timeout
        )

    async def publish_event(self, event: EventBase[Any]) -> None:
        """Confirmed, not mandatory: an event nobody subscribed to is nobody's loss."""
        await self.publish(
            self.topology.events,
            event.kind(),
            event.model_dump_json().encode(),
            message_id=event.event_id,
            message_type=event.kind(),
            mandatory=False,
        )

    async def send_command(self, command: CommandBase[Any]) -> None:
        """Durably queued on the conversation's shard, or UnavailableError: never lost silently.
        Commands of one shard sent while its previous publish awaits the broker travel together
        in the next one (`shared.command_lanes`)."""
        shard = shard_for(command.data.conversation_id, self.topology.command_shards)
        await self._lanes.send(f"{BATCH_TYPE}.{shard}", command)

    async def _publish_commands(self, batch_key: str, commands: Sequence[EncodedCommand]) -> None:
        """One command as itself; several as one `command.batch` message on the shard's batch
        key, or, where no messaging bound that key yet (an upgrade under way: it comes back
        unroutable), each as itself."""
        if len(commands) > 1:
            ids = ",".join(each.command.command_id for each in commands)
            try:
                await self.publish(
                    self.topology.commands,
                    batch_key,
                    b"[" + b",".join(each.body for each in commands) + b"]",
                    message_id=derive_event_id(BATCH_TYPE, ids),
                    message_type=BATCH_TYPE,
                    mandatory=True,  # unbound: it comes back, and goes as lone commands
                )
            except UnroutableError:
                log.warning("command_batch_unroutable", routing_key=batch_key)
            else:
                return
        await asyncio.gather(*(self._publish_command(each) for each in commands))

    async def _publish_command(self, encoded: EncodedCommand) -> None:
        command = encoded.command
        await self.publish(
            self.topology.commands,
            command.routing_key(self.topology.command_shards),
            encoded.body,
            message_id=command.command_id,
            message_type=command.kind(),
            mandatory=True,
        )

    @property
    def closing(self) -> bool:
        """True once `close()` began: a handler should start no new work."""
        return self._closing

    async def consume(
        self,
        queue_name: str,
        handler: Handler,
        *,
        prefetch: int = 32,
        bindings: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Consume a durable queue on its own channel, after adding `bindings` (exchange,
        routing key) to those it is declared with; `shared.bus_consume` says how each delivery
        is acked, retried or dead-lettered."""
        await self._consume(queue_name, handler, prefetch, cancel_on_close=True, bindings=bindings)

    async def consume_in_order(
        self, queue_name: str, handler: Handler, *, prefetch: int = 32
    ) -> None:
        """Like `consume`, for a single-active-consumer queue whose order matters.

        `close()` does not cancel this consumer first: the broker would hand the queue to the
        next consumer at once, and that one would overtake the deliveries still held here.
        Instead, while `closing`, the handler finishes what it started and refuses the rest by
        raising TransientError (left unacked); closing the connection then returns those to
        the head of the queue, in order, before the next consumer becomes active.
        """
        await self._consume(queue_name, handler, prefetch, cancel_on_close=False)

    async def _consume(
        self,
        queue_name: str,
        handler: Handler,
        prefetch: int,
        *,
        cancel_on_close: bool,
        bindings: Sequence[tuple[str, str]] = (),
    ) -> None:
        channel = await self.channel(prefetch=prefetch)
        assert self._connection is not None
        spec = next(q for q in topo.queue_specs(self.topology) if q.name == queue_name)
        if queue_name not in self._arguments:  # not this owner's: declared here first
            self._arguments[queue_name] = await topo.settle(self._connection, spec)
        arguments = self._arguments[queue_name]
        # Declared (not merely looked up) on this channel, so a robust reconnect restores it
        # together with the consumer (on whichever node the connection is on by then).
        if arguments is None:  # an older Haven's queue, kept as it is (`topo.settle`)
            queue = await channel.declare_queue(spec.name, passive=True)
        else:
            queue = await channel.declare_queue(spec.name, durable=True, arguments=arguments)
        for exchange, routing_key in bindings:
            await queue.bind(exchange, routing_key)

        label = queue_name.removeprefix(self.topology.namespace)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._handling.process(label, message, handler)

        tag = await queue.consume(on_message)
        if cancel_on_close:
            self._consumers.append((queue, tag))

    async def close(self, grace: float) -> None:
        """Stop taking work, let in-flight handlers finish, then close the connection."""
        self._closing = True
        for queue, tag in self._consumers:
            try:
                await queue.cancel(tag, timeout=2)
            except (TimeoutError, aio_pika.exceptions.AMQPError, aiormq.exceptions.AMQPError):
                log.warning("bus_cancel_failed", queue=queue.name)
        await self._handling.drain(grace)
        await self._lanes.close()
        if self._publisher is not None:
            await self._publisher.wait_renewals()
        await self._handling.flush()  # what was done is acked, not handed to the next consumer
        if self._connection is not None:
            await self._connection.close()

    async def channel(self, *, prefetch: int) -> AbstractChannel:
        """A robust channel for another façade on this connection (`shared.rpc`'s server).

        Like `consume`'s channels: restored with its queues, bindings and consumers after a
        reconnect, counted by `ready`, closed with the connection.
        """
        assert self._connection is not None, "start() first"
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        self._channels.append(channel)
        return channel

    async def transient_channel(self, *, timeout: float = PUBLISH_TIMEOUT) -> AbstractChannel:
        """A plain channel with publisher confirms that its caller owns and re-opens after a loss.

        For `shared.rpc`'s client: a direct reply-to consumer lives and dies with its channel, so
        it must not be restored behind the caller's back. UnavailableError if the broker is not
        there.
        """
        connection = self._connection
        if connection is None or not self.declared.is_set():
            raise UnavailableError("broker not connected")
        try:
            async with asyncio.timeout(timeout):
                await connection.connected.wait()
                channel = aio_pika.Channel(connection, publisher_confirms=True)
                await channel.initialize()
        except CHANNEL_ERRORS as error:
            raise UnavailableError(f"channel not opened: {type(error).__name__}") from error
        return channel

    @property
    def connection(self) -> AbstractRobustConnection | None:
        """For `shared.exclusive`, which owns channels of its own on this connection."""
        return self._connection
