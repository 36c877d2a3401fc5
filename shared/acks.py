"""Acks of durable queues, sent as few frames as their order allows.

A consumer acks every message it handled; on a busy queue (a command shard whose batch of 64
completes at once, an events queue) one `basic.ack` per message is a write and a broker round
of work each. Here a message counts as acked once its handler is done, and at the end of the
loop's turn one `basic.ack multiple` covers every done message below the lowest one still in
hand on that channel; any done message above it is acked on its own at once (so a long handler
never holds the others' acks back). A delivery tag is taken into hand when its handler starts,
and handlers start in delivery order (aiormq and aio-pika schedule them FIFO), so a multiple ack
never covers a message that is not done yet.

An ack may be lost with its channel (the broker then redelivers the message: every handler is
idempotent, that is the bus's contract); `flush` sends what is pending before a connection is
closed on purpose, so a clean shutdown hands over no duplicates.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field

import structlog
from aio_pika.abc import AbstractIncomingMessage
from aiormq.exceptions import ChannelInvalidStateError

log = structlog.get_logger(__name__)


@dataclass
class _Channel:
    in_hand: set[int] = field(default_factory=set)  # started, not done
    done: dict[int, AbstractIncomingMessage] = field(default_factory=dict)  # done, not acked


class Acks:
    """One per bus: the pending acks of every consumer channel it holds."""

    def __init__(self) -> None:
        # Keyed by the underlying channel: a reconnect brings a new one, whose tags start again.
        self._channels: weakref.WeakKeyDictionary[object, _Channel] = weakref.WeakKeyDictionary()
        self._scheduled = False
        self._sending: set[asyncio.Task[None]] = set()

    def started(self, message: AbstractIncomingMessage) -> None:
        """Call before the handler's first await."""
        self._state(message).in_hand.add(_tag(message))

    def settled(self, message: AbstractIncomingMessage) -> None:
        """The message was rejected (or is left for redelivery): no longer in hand, no ack."""
        self._state(message).in_hand.discard(_tag(message))

    def done(self, message: AbstractIncomingMessage) -> None:
        """The handler is done: ack at the end of this turn of the loop."""
        state = self._state(message)
        tag = _tag(message)
        state.in_hand.discard(tag)
        state.done[tag] = message
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    async def flush(self) -> None:
        """Send every pending ack and wait for the writes (before closing the connection)."""
        self._flush()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    def _state(self, message: AbstractIncomingMessage) -> _Channel:
        try:
            channel = message.channel
        except ChannelInvalidStateError:  # gone: nothing of it can be acked any more
            return _Channel()
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = _Channel()
        return state

    def _flush(self) -> None:
        self._scheduled = False
        for state in list(self._channels.values()):
            if not state.done:
                continue
            lowest = min(state.in_hand, default=None)
            below = [t for t in state.done if lowest is None or t < lowest]
            above = [t for t in state.done if lowest is not None and t > lowest]
            if below:
                self._send(state.done[max(below)], multiple=len(below) > 1)
            for tag in above:
                self._send(state.done[tag], multiple=False)
            state.done.clear()

    def _send(self, message: AbstractIncomingMessage, *, multiple: bool) -> None:
        task = asyncio.create_task(_ack(message, multiple))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)


async def _ack(message: AbstractIncomingMessage, multiple: bool) -> None:
    try:
        await message.ack(multiple=multiple)
    except Exception as error:  # the channel went: the broker redelivers what was not acked
        log.warning("bus_ack_lost", routing_key=message.routing_key, reason=type(error).__name__)


def _tag(message: AbstractIncomingMessage) -> int:
    return message.delivery_tag or 0
