"""aio-pika façade: one robust connection, confirmed publishing, structured consumption."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aio_pika
import aiormq
import pydantic
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from pymongo.errors import OperationFailure

from shared import failover
from shared import topology as topo
from shared.commands import CommandBase
from shared.errors import PermanentError, UnavailableError, UnroutableError, field_names
from shared.events import EventBase
from shared.logging import correlation, current_correlation_id
from shared.metrics import BUS_CONSUMED, BUS_PUBLISHED
from shared.supervise import Backoff
from shared.transient import is_transient

log = structlog.get_logger(__name__)

# What a channel raises when the broker or the channel went away.
CHANNEL_ERRORS = (
    TimeoutError,
    aio_pika.exceptions.AMQPError,
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
)

# What a publish raises when its confirm cannot come: the broker node or the channel went
# away (the closing reason, an OSError, or aiormq's RuntimeError for a closed channel).
PUBLISH_ERRORS = (*CHANNEL_ERRORS, OSError, RuntimeError)

SCHEMA_VERSION = 1
PUBLISH_TIMEOUT = 5.0
UNEXPECTED_ATTEMPTS = 5
HANDLER_RETRY = Backoff(first=0.2, maximum=5.0)


@dataclass(frozen=True)
class Delivery:
    """What a consumer sees of an AMQP message: no aio-pika types leak past this module."""

    body: bytes
    routing_key: str
    message_id: str | None
    correlation_id: str | None
    headers: dict[str, Any]
    redelivered: bool

    @classmethod
    def of(cls, message: AbstractIncomingMessage) -> Delivery:
        return cls(
            body=message.body,
            routing_key=message.routing_key or "",
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            headers=dict(message.headers or {}),
            redelivered=bool(message.redelivered),
        )


Handler = Callable[[Delivery], Awaitable[None]]
T = TypeVar("T")


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
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._arguments: dict[str, topo.Arguments | None] = {}
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._channels: list[AbstractChannel] = []
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._renewing = asyncio.Lock()
        self._renewals: set[asyncio.Task[None]] = set()
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
        self._publish_channel = await connection.channel(publisher_confirms=True)
        self._exchanges = await topo.declare_exchanges(
            self._publish_channel, self.topology, self._owner
        )
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
    ) -> None:
        """Publish and wait for the broker's confirm; UnavailableError if none comes in time."""
        if not self.ready or exchange not in self._exchanges:
            raise UnavailableError("broker not connected")
        channel = self._publish_channel
        message = aio_pika.Message(
            body,
            content_type="application/json",
            message_id=message_id,
            correlation_id=current_correlation_id(),
            type=message_type,
            headers={"version": SCHEMA_VERSION},
            delivery_mode=(
                aio_pika.DeliveryMode.PERSISTENT
                if persistent
                else aio_pika.DeliveryMode.NOT_PERSISTENT
            ),
        )
        try:
            # The whole publish, not only the confirm: on a connection being restored (a node
            # lost), the channel waits for the restore before it even sends.
            async with asyncio.timeout(timeout):
                result = await _unless_channel_lost(
                    self._exchanges[exchange].publish(
                        message, routing_key, mandatory=mandatory, timeout=timeout
                    )
                )
        except PUBLISH_ERRORS as error:
            if isinstance(error, aio_pika.exceptions.DeliveryError):  # the broker said no
                renewal = asyncio.create_task(self._renew_publish_channel(channel))
                self._renewals.add(renewal)
                renewal.add_done_callback(self._renewals.discard)
            raise UnavailableError(f"publish not confirmed: {type(error).__name__}") from error
        if isinstance(result, aiormq.abc.DeliveredMessage):
            raise UnroutableError(routing_key)
        BUS_PUBLISHED.labels(exchange=exchange.removeprefix(self.topology.namespace)).inc()

    async def _renew_publish_channel(self, refused: AbstractChannel | None) -> None:
        """Publish on a new channel from now on, after the broker refused (nacked) a publish.

        Haven's queues never refuse for being full, so a refusal means a queue could not take
        the message. RabbitMQ 3.10 refuses every publish of a channel whose first one to a
        quorum queue came while that queue's leader node was down (the channel keeps asking
        the dead node), until that node is back; a new channel asks the queue's new leader.
        Renewed once per refused channel, never while closing."""
        async with self._renewing:
            if refused is not self._publish_channel or self._closing or self._connection is None:
                return
            try:
                channel = await self._connection.channel(publisher_confirms=True)
                exchanges = await topo.declare_exchanges(channel, self.topology, self._owner)
            except PUBLISH_ERRORS as error:
                log.warning("publish_channel_not_renewed", reason=type(error).__name__)
                return
            self._publish_channel, self._exchanges = channel, exchanges
            log.warning("publish_channel_renewed", node=self.node)
        if refused is not None and not refused.is_closed:
            with contextlib.suppress(*PUBLISH_ERRORS):
                await refused.close()

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
        """Durably queued on the conversation's shard, or UnavailableError: never lost silently."""
        await self.publish(
            self.topology.commands,
            command.routing_key(self.topology.command_shards),
            command.model_dump_json().encode(),
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
        routing key) to those it is declared with; see `_process` for ack semantics."""
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
        assert self._connection is not None, "start() first"
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        self._channels.append(channel)
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

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._process(queue_name, message, handler)

        tag = await queue.consume(on_message)
        if cancel_on_close:
            self._consumers.append((queue, tag))

    async def _process(
        self, queue: str, message: AbstractIncomingMessage, handler: Handler
    ) -> None:
        self._in_flight += 1
        self._idle.clear()
        delivery = Delivery.of(message)
        label = queue.removeprefix(self.topology.namespace)
        try:
            with correlation(delivery.correlation_id):
                outcome = await self._run_handler(handler, delivery)
            if outcome == "ack":
                await message.ack()
            elif outcome == "dead":
                await message.reject(requeue=False)
            BUS_CONSUMED.labels(queue=label, outcome=outcome).inc()
        except aio_pika.exceptions.AMQPError:
            # The channel is gone: the broker redelivers the unacked message to someone.
            log.warning("bus_ack_lost", queue=label)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _run_handler(self, handler: Handler, delivery: Delivery) -> str:
        """Run until done: transient errors retry forever, bugs a few times, bad input never."""
        delay, unexpected = HANDLER_RETRY.first, 0
        while True:
            try:
                await handler(delivery)
            except (PermanentError, pydantic.ValidationError) as error:
                log.error(
                    "message_dead_lettered",
                    routing_key=delivery.routing_key,
                    reason=type(error).__name__,
                    fields=_fields_of(error),
                )
                return "dead"
            except Exception as error:
                if is_transient(error):
                    log.warning("handler_retry_transient", reason=type(error).__name__, delay=delay)
                else:
                    unexpected += 1
                    _log_unexpected(error, unexpected)
            else:
                return "ack"
            if unexpected >= UNEXPECTED_ATTEMPTS:
                return "dead"
            if self._closing:
                return "abandoned"  # left unacked: the broker redelivers after we close
            await asyncio.sleep(delay)
            delay = HANDLER_RETRY.after(delay)

    async def close(self, grace: float) -> None:
        """Stop taking work, let in-flight handlers finish, then close the connection."""
        self._closing = True
        for queue, tag in self._consumers:
            try:
                await queue.cancel(tag, timeout=2)
            except (TimeoutError, aio_pika.exceptions.AMQPError, aiormq.exceptions.AMQPError):
                log.warning("bus_cancel_failed", queue=queue.name)
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=grace)
        except TimeoutError:
            log.warning("bus_shutdown_in_flight_abandoned", in_flight=self._in_flight)
        await asyncio.gather(*self._renewals, return_exceptions=True)
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


async def _unless_channel_lost(publishing: Awaitable[T]) -> T:
    """`publishing`'s result; UnavailableError when it is cancelled because its channel closed
    under it (a connection lost to a node that died), not because our own task is cancelled."""
    try:
        return await publishing
    except asyncio.CancelledError as error:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        raise UnavailableError("publish not confirmed: the channel closed") from error


def _log_unexpected(error: Exception, attempt: int) -> None:
    """A database error by its code only: its message may quote a document's values."""
    if isinstance(error, OperationFailure):
        log.error("handler_database_error", code=error.code, attempt=attempt)
    else:
        log.exception("handler_failed", attempt=attempt)


def _fields_of(error: Exception) -> list[str]:
    """Which fields failed, never their values: a body may hold ciphertext or ids only, but
    validation messages echo inputs."""
    if isinstance(error, pydantic.ValidationError):
        return field_names(error)
    return []
