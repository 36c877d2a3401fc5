"""Part of the bus façade (`shared.bus`): publishing with confirms.

A publish is done only once the broker confirmed it, so a caller that got no error may forget
the message. This module holds the one confirming channel every publish goes through and what
keeps it usable: a publish cut by a lost node is `UnavailableError`, never a hang or a bare
cancellation, and a channel the broker keeps refusing is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import aio_pika
import aiormq
import structlog
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from shared import failover
from shared import topology as topo
from shared.errors import UnavailableError, UnroutableError
from shared.logging import current_correlation_id
from shared.metrics import BUS_PUBLISHED

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

T = TypeVar("T")


def outgoing(
    body: bytes,
    *,
    message_id: str,
    message_type: str,
    persistent: bool,
    headers: Mapping[str, str] | None = None,
) -> aio_pika.Message:
    """The AMQP message every publish sends: JSON, versioned, under the caller's correlation."""
    return aio_pika.Message(
        body,
        content_type="application/json",
        message_id=message_id,
        correlation_id=current_correlation_id(),
        type=message_type,
        headers={**(headers or {}), "version": SCHEMA_VERSION},
        delivery_mode=(
            aio_pika.DeliveryMode.PERSISTENT if persistent else aio_pika.DeliveryMode.NOT_PERSISTENT
        ),
    )


class Publisher:
    """The confirming channel of a started bus and the exchanges declared on it.

    Made once the bus knows its topology (quorum or not); `closing` tells it the bus is
    closing, so it renews no channel from then on.
    """

    def __init__(
        self,
        *,
        connection: AbstractRobustConnection,
        topology: topo.Topology,
        owner: str | None,
        closing: Callable[[], bool],
    ) -> None:
        self._connection = connection
        self._topology = topology
        self._owner = owner
        self._closing = closing
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._renewing = asyncio.Lock()
        self._renewals: set[asyncio.Task[None]] = set()

    @property
    def is_open(self) -> bool:
        """Whether the channel is open: after a reconnect the connection is back before its
        channels are restored, and a publish meanwhile would fail."""
        return self._channel is not None and not self._channel.is_closed

    async def open(self) -> None:
        """Open the channel and declare the owner's exchanges on it (restored on reconnect)."""
        self._channel = await self._connection.channel(publisher_confirms=True)
        self._exchanges = await topo.declare_exchanges(self._channel, self._topology, self._owner)

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        message: aio_pika.Message,
        *,
        mandatory: bool,
        timeout: float,
    ) -> None:
        """Publish and wait for the broker's confirm; UnavailableError if none comes in time,
        UnroutableError if a mandatory message reached no queue."""
        if exchange not in self._exchanges:
            raise UnavailableError("broker not connected")
        channel = self._channel
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
                renewal = asyncio.create_task(self._renew(channel))
                self._renewals.add(renewal)
                renewal.add_done_callback(self._renewals.discard)
            raise UnavailableError(f"publish not confirmed: {type(error).__name__}") from error
        if isinstance(result, aiormq.abc.DeliveredMessage):
            raise UnroutableError(routing_key)
        BUS_PUBLISHED.labels(exchange=exchange.removeprefix(self._topology.namespace)).inc()

    async def _renew(self, refused: AbstractChannel | None) -> None:
        """Publish on a new channel from now on, after the broker refused (nacked) a publish.

        Haven's queues never refuse for being full, so a refusal means a queue could not take
        the message. RabbitMQ 3.10 refuses every publish of a channel whose first one to a
        quorum queue came while that queue's leader node was down (the channel keeps asking
        the dead node), until that node is back; a new channel asks the queue's new leader.
        Renewed once per refused channel, never while closing."""
        async with self._renewing:
            if refused is not self._channel or self._closing():
                return
            try:
                channel = await self._connection.channel(publisher_confirms=True)
                exchanges = await topo.declare_exchanges(channel, self._topology, self._owner)
            except PUBLISH_ERRORS as error:
                log.warning("publish_channel_not_renewed", reason=type(error).__name__)
                return
            self._channel, self._exchanges = channel, exchanges
            log.warning("publish_channel_renewed", node=failover.connected_node(self._connection))
        if refused is not None and not refused.is_closed:
            with contextlib.suppress(*PUBLISH_ERRORS):
                await refused.close()

    async def wait_renewals(self) -> None:
        """Let a renewal under way finish before the connection closes under it."""
        await asyncio.gather(*self._renewals, return_exceptions=True)


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
