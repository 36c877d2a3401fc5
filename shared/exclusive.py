"""Part of the bus façade: exclusive, auto-delete queues only this process reads (deliveries)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aio_pika
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from shared.bus import CHANNEL_ERRORS, PUBLISH_TIMEOUT, Bus, Delivery, Handler
from shared.errors import UnavailableError
from shared.logging import correlation

log = structlog.get_logger(__name__)

# Acks here mean nothing for reliability (the queue dies with its connection, and a handler's
# outcome does not change whether its message is acked): they only reopen the prefetch window.
# So they go in groups, one `multiple` ack per ACK_EVERY messages or after ACK_LINGER seconds.
ACK_EVERY = 16
ACK_LINGER = 0.02


class ExclusiveQueue:
    """An exclusive, auto-delete queue on a channel of its own, consumed by this process only.

    The queue dies with its channel or its connection, and a robust reconnect would not bring
    its bindings back faithfully, so it is deliberately not robust: the owner waits on
    `wait_closed()`, calls `open()` again (a fresh queue under a new name, so a broker that has
    not yet noticed the old connection never answers RESOURCE_LOCKED) and re-binds its keys.
    """

    def __init__(
        self,
        connection: Callable[[], AbstractRobustConnection | None],
        base_name: str,
        handler: Handler,
        prefetch: int,
    ) -> None:
        self._connection = connection
        self._base_name = base_name
        self._handler = handler
        self._prefetch = prefetch
        self._channel: aio_pika.Channel | None = None
        self._queue: AbstractQueue | None = None
        self._generation = 0
        self._to_ack: tuple[int, AbstractIncomingMessage] | None = None
        self._unacked = 0
        self._ack_timer: asyncio.TimerHandle | None = None
        self._acking: set[asyncio.Task[None]] = set()

    @property
    def name(self) -> str | None:
        return self._queue.name if self._queue is not None else None

    @property
    def is_open(self) -> bool:
        return self._queue is not None and self._channel is not None and not self._channel.is_closed

    async def open(self, timeout: float = PUBLISH_TIMEOUT) -> None:
        """Drop the previous channel, declare and consume a fresh queue; or UnavailableError."""
        await self.close()
        connection = self._connection()
        if connection is None:
            raise UnavailableError("broker not connected")
        self._generation += 1
        name = f"{self._base_name}.{self._generation}"
        try:
            async with asyncio.timeout(timeout):
                await connection.connected.wait()
                channel = aio_pika.Channel(connection, publisher_confirms=False)
                await channel.initialize()
                self._channel = channel
                await channel.set_qos(prefetch_count=self._prefetch)
                queue = await channel.declare_queue(name, exclusive=True, auto_delete=True)
                # Consume before any binding exists: an auto-delete queue that has had a
                # consumer disappears with its channel, so no binding can outlive us.
                await queue.consume(self._on_message)
        except CHANNEL_ERRORS as error:
            raise UnavailableError(
                f"exclusive queue not declared: {type(error).__name__}"
            ) from error
        self._queue = queue

    async def bind(self, exchange: str, routing_key: str, timeout: float = PUBLISH_TIMEOUT) -> None:
        queue = self._require_open()
        try:
            await queue.bind(exchange, routing_key, timeout=timeout)
        except CHANNEL_ERRORS as error:
            raise UnavailableError(f"bind failed: {type(error).__name__}") from error

    async def unbind(
        self, exchange: str, routing_key: str, timeout: float = PUBLISH_TIMEOUT
    ) -> None:
        queue = self._require_open()
        try:
            await queue.unbind(exchange, routing_key, timeout=timeout)
        except CHANNEL_ERRORS as error:
            raise UnavailableError(f"unbind failed: {type(error).__name__}") from error

    async def wait_closed(self) -> None:
        """Return once the current channel is gone (broker, network or `close()`)."""
        if self._channel is not None:
            await self._channel.closed()

    async def close(self) -> None:
        self._forget_acks()
        for task in list(self._acking):
            task.cancel()
        await asyncio.gather(*self._acking, return_exceptions=True)
        channel, self._channel, self._queue = self._channel, None, None
        if channel is None or channel.is_closed:
            return
        try:
            await channel.close()
        except CHANNEL_ERRORS:
            log.debug("exclusive_channel_close_failed", queue=self._base_name)

    def _require_open(self) -> AbstractQueue:
        if self._queue is None or not self.is_open:
            raise UnavailableError("exclusive queue not open")
        return self._queue

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        delivery = Delivery.of(message)
        try:
            with correlation(delivery.correlation_id):
                # Shielded: a channel closing mid-handler must not cut, say, a socket write short.
                await asyncio.shield(self._handler(delivery))
        except Exception:
            log.exception("exclusive_handler_failed", routing_key=delivery.routing_key)
        self._settled(message)

    def _settled(self, message: AbstractIncomingMessage) -> None:
        """Ack later, with the highest delivery tag of this channel seen done so far."""
        tag, held = message.delivery_tag or 0, self._to_ack
        if held is None or held[0] != self._generation or tag > (held[1].delivery_tag or 0):
            self._to_ack = (self._generation, message)
        self._unacked += 1
        if self._unacked >= ACK_EVERY:
            self._flush_acks()
        elif self._ack_timer is None:
            self._ack_timer = asyncio.get_running_loop().call_later(ACK_LINGER, self._flush_acks)

    def _flush_acks(self) -> None:
        held = self._to_ack
        self._forget_acks()
        if held is None or held[0] != self._generation:
            return  # from a channel that is gone: nothing to ack
        task = asyncio.create_task(self._ack(held[1]))
        self._acking.add(task)
        task.add_done_callback(self._acking.discard)

    def _forget_acks(self) -> None:
        if self._ack_timer is not None:
            self._ack_timer.cancel()
        self._ack_timer, self._to_ack, self._unacked = None, None, 0

    @staticmethod
    async def _ack(message: AbstractIncomingMessage) -> None:
        try:
            await message.ack(multiple=True)
        except CHANNEL_ERRORS:
            log.debug("exclusive_ack_lost", routing_key=message.routing_key)


def exclusive_queue(
    bus: Bus, base_name: str, handler: Handler, *, prefetch: int = 64
) -> ExclusiveQueue:
    """A queue on `bus`'s connection, named under the bus's namespace."""
    return ExclusiveQueue(lambda: bus.connection, bus.topology.name(base_name), handler, prefetch)
