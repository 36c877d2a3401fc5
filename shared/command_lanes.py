"""Commands that travel together: the gateway's half of command batches.

Every command is confirmed by the broker before its request is answered (a 202 is never for
nothing). Publishing each one as its own AMQP message costs the broker a write, a confirm, a
delivery and an ack per command, and messaging a delivery each. So each lane (the bus keys one
per shard) has at most one publish in flight: a command that finds its lane free is published
at once, as itself, exactly as a lone command always was; commands that arrive while the lane
waits for a confirm queue up and go out together in the lane's next publish (the bus makes it
one `command.batch` message: `Bus._publish_commands`), once that confirm came. Each of them is
answered when its own publish is confirmed, or fails with it.

Order: a lane's commands are published in the order they arrived, and a conversation's commands
share a lane. A request is answered only after its command was confirmed, so what a client
sends after an answer is always published after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.commands import CommandBase
from shared.errors import UnavailableError

MAX_BATCH = 64  # commands per AMQP message
# Bytes of commands per AMQP message (a command larger than this goes alone): what one
# delivery may hold in messaging's memory, times its prefetch, stays bounded.
MAX_BATCH_BYTES = 256 * 1024


@dataclass(frozen=True)
class EncodedCommand:
    """A command and its JSON, made once when it is sent."""

    command: CommandBase[Any]
    body: bytes


# Publishes a lane's commands (its key, the commands in order), returning once the broker
# confirmed them.
PublishCommands = Callable[[str, Sequence[EncodedCommand]], Awaitable[None]]


@dataclass(eq=False)
class _Queued:
    encoded: EncodedCommand
    published: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(eq=False)
class _Lane:
    busy: bool = False
    queued: list[_Queued] = field(default_factory=list)


class CommandLanes:
    def __init__(
        self,
        publish: PublishCommands,
        *,
        max_batch: int = MAX_BATCH,
        max_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self._publish = publish
        self._max_batch = max_batch
        self._max_bytes = max_bytes
        self._lanes: dict[str, _Lane] = {}
        self._flushing: set[asyncio.Task[None]] = set()

    async def send(self, routing_key: str, command: CommandBase[Any]) -> None:
        """Returns once the broker confirmed the message that carried `command`; raises what
        that publish raised (UnavailableError, UnroutableError)."""
        lane = self._lanes.setdefault(routing_key, _Lane())
        encoded = EncodedCommand(command, command.model_dump_json().encode())
        if lane.busy:
            queued = _Queued(encoded)
            lane.queued.append(queued)
            await queued.published
            return
        lane.busy = True
        try:
            await self._publish(routing_key, [encoded])
        finally:
            self._next(routing_key, lane)

    def _next(self, routing_key: str, lane: _Lane) -> None:
        """The lane's publish is over: flush what queued meanwhile, or free the lane."""
        if not lane.queued:
            lane.busy = False
            return
        task = asyncio.create_task(self._flush(routing_key, lane), name="command-lane")
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush(self, routing_key: str, lane: _Lane) -> None:
        """Publish the queued commands, a batch at a time, until none is left."""
        batch: list[_Queued] = []
        try:
            while lane.queued:
                batch = self._take(lane)
                try:
                    await self._publish(routing_key, [queued.encoded for queued in batch])
                except Exception as error:  # each request waiting on this batch gets it
                    _settle(batch, error)
                else:
                    _settle(batch, None)
        except BaseException:  # cancelled at shutdown: nobody will publish what is left
            _settle([*batch, *lane.queued], UnavailableError("shutting down"))
            lane.queued.clear()
            raise
        finally:
            lane.busy = False

    def _take(self, lane: _Lane) -> list[_Queued]:
        """The next batch: in order, up to `max_batch` commands and `max_bytes` (at least one)."""
        size, count = 0, 0
        for queued in lane.queued[: self._max_batch]:
            size += len(queued.encoded.body)
            if count and size > self._max_bytes:
                break
            count += 1
        batch = lane.queued[:count]
        del lane.queued[:count]
        return batch

    async def close(self) -> None:
        """Let the batches being published finish (they fail fast once the bus is closing)."""
        await asyncio.gather(*self._flushing, return_exceptions=True)


def _settle(batch: Sequence[_Queued], error: Exception | None) -> None:
    for queued in batch:
        if queued.published.done():  # its request was cancelled meanwhile
            continue
        if error is None:
            queued.published.set_result(None)
        else:
            queued.published.set_exception(error)
