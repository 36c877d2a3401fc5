"""The command shards' deliveries, batched and handled strictly in delivery order.

The bus calls `submit` once per delivery, concurrently up to its prefetch, and acks when it
returns (dead-letters on PermanentError or a validation error). One pipeline serves every shard
this process consumes: each call queues its command and waits for the pipeline's turn; the first
waiter takes everything queued (up to `max_batch`), whichever shards it came from, and hands it
to the service as one batch; batches never overlap. Each shard's deliveries join the queue in
their delivery order and a conversation lives on one shard, so a conversation's commands are
handled one after another in delivery order (the service keeps each conversation's order within
a batch), and a command returns, hence is acked, only after its event was confirmed. Only
that wait for the broker's confirm and the retention read after the insert (an `Announcing`
outcome) runs past the pipeline's turn: the next batch is stored meanwhile. An announcement that
fails makes its command raise here, so the bus retries it; the retry finds it stored and
publishes the event again (same `event_id`), never storing it twice or out of order.

Failures are retried here, in place, and never through the bus: a command retried on its own
could overtake a later one of the same conversation. Transient failures (database or broker
away) retry the whole batch until they pass, holding the pipeline; anything else retries a few
times, then the batch is split and a command that still fails on its own is dead-lettered.
Once `stopping` (the bus is closing), no new batch starts and a failing one is given up: those
commands are left unacked for the next active consumer (see `Bus.consume_in_order`).
A command that does not validate is dead-lettered at once; a `message.send` among them that
still names its sender is announced to that sender first (`refused`).

A delivery may carry several commands of its shard (a `command.batch` from the gateway's
lanes, `shared/command_lanes.py`): each is a job of its own, queued in its order; one that
fails for good goes to the dead letters alone (`dead_letter`, with its reason), and the
delivery is acked once every command is done or dead-lettered.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import pydantic
import structlog

from services.messaging.metrics import BATCH_RETRIES, BATCH_SIZE
from services.messaging.service import Job, Outcome
from shared.bus import Delivery
from shared.commands import Command, UnreadableSend, decode_batch, decode_command, is_batch
from shared.errors import PermanentError, TransientError, field_names
from shared.supervise import Backoff
from shared.transient import is_transient

log = structlog.get_logger(__name__)

BatchHandler = Callable[[Sequence[Job]], Awaitable[list[Outcome]]]
GiveUp = Callable[[Job], Awaitable[None]]
Refuse = Callable[[UnreadableSend, str], Awaitable[None]]
# One command of a batch to the dead letters on its own (its JSON, why), confirmed.
DeadLetter = Callable[[bytes, str], Awaitable[None]]

ATTEMPTS = 5


@dataclass(eq=False)  # compared by identity: two deliveries may carry equal commands
class _Waiting:
    job: Job
    outcome: asyncio.Future[PermanentError | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ShardPipeline:
    def __init__(
        self,
        handle: BatchHandler,
        *,
        max_batch: int = 64,
        linger: float = 0.003,
        retry_delay: float = 0.2,
        stopping: Callable[[], bool] = lambda: False,
        given_up: GiveUp | None = None,
        refused: Refuse | None = None,
        dead_letter: DeadLetter | None = None,
    ) -> None:
        self._handle = handle
        self._dead_letter_to = dead_letter
        self._stopping = stopping
        self._given_up = given_up
        self._refused = refused
        self._max_batch = max_batch
        self._linger = linger
        self._retry = Backoff(first=retry_delay, maximum=5.0)
        self._queued: list[_Waiting] = []
        self._turn = asyncio.Lock()  # FIFO: waiters take their turn in arrival order

    async def submit(self, delivery: Delivery) -> None:
        """A bus handler: returns once the command is done, raises PermanentError if never.
        A batch of commands (`shared.command_lanes`) returns once each of them is done or
        dead-lettered on its own."""
        if is_batch(delivery.body):
            await self._submit_batch(delivery)
            return
        try:
            command = _decode(delivery.body)
        except PermanentError as failure:
            await self._refuse(delivery.body, failure)
            raise
        (outcome,) = await self._outcomes([Job(command, delivery.redelivered)])
        if outcome is not None:
            raise outcome

    async def _submit_batch(self, delivery: Delivery) -> None:
        """The valid commands are handled in their order like lone ones; each that fails for
        good (invalid, or failing alone repeatedly) goes to the dead letters by itself, and
        the batch is acked. A transient failure of any retries the whole batch: what was
        stored is found again, never stored twice."""
        try:
            decoded = decode_batch(delivery.body)
        except pydantic.ValidationError as error:
            raise PermanentError(
                f"invalid command batch: {', '.join(field_names(error))}"
            ) from None
        commands = [c for c in decoded if not isinstance(c, tuple)]
        outcomes = await self._outcomes([Job(c, delivery.redelivered) for c in commands])
        for raw, invalid in (item for item in decoded if isinstance(item, tuple)):
            failure = PermanentError(f"invalid command: {', '.join(field_names(invalid))}")
            await self._refuse(raw, failure)
            await self._dead_letter(raw, str(failure))
        for command, outcome in zip(commands, outcomes, strict=True):
            if outcome is not None:
                await self._dead_letter(command.model_dump_json().encode(), str(outcome))

    async def _outcomes(self, jobs: list[Job]) -> list[PermanentError | None]:
        """Queue `jobs` in their order and wait for each outcome (batches run in turn)."""
        waiting = [_Waiting(job) for job in jobs]
        self._queued.extend(waiting)  # no await before this line: queue order is delivery order
        try:
            for each in waiting:
                async with self._turn:
                    if not each.outcome.done():
                        await self._run_batch()
            return [await each.outcome for each in waiting]
        finally:
            # Cancelled (the channel closed): the broker redelivers it, so forget it here.
            for each in waiting:
                if not each.outcome.done() and each in self._queued:  # done: taken from it
                    self._queued.remove(each)

    async def _dead_letter(self, body: bytes, reason: str) -> None:
        if self._dead_letter_to is None:
            raise PermanentError(reason)  # nowhere to put it alone: the whole batch goes
        await self._dead_letter_to(body, reason)

    async def _refuse(self, body: bytes, failure: PermanentError) -> None:
        """An illegible message.send is never stored: tell its sender, if it names one."""
        sent = UnreadableSend.of(body)
        if sent is not None and self._refused is not None:
            await self._refused(sent, str(failure))

    async def _run_batch(self) -> None:
        if self._stopping():
            batch, self._queued = self._queued, []
            _abandon(batch)
            return
        if len(self._queued) < self._max_batch and self._linger > 0:
            await asyncio.sleep(self._linger)  # let a burst gather into one batch
        batch = self._queued[: self._max_batch]
        del self._queued[: len(batch)]
        BATCH_SIZE.observe(len(batch))
        try:
            outcomes = await self._attempt([w.job for w in batch])
        except BaseException:  # cancelled with its channel: nobody acks these any more
            for waiting in batch:
                waiting.outcome.cancel()
            raise
        if outcomes is None:
            _abandon(batch)
            return
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, asyncio.Future):
                outcome.add_done_callback(functools.partial(_settle, waiting))
            else:
                waiting.outcome.set_result(outcome)

    async def _attempt(self, jobs: list[Job]) -> list[Outcome] | None:
        """The batch's outcomes, or None when shutting down before it could succeed."""
        delay, failures = self._retry.first, 0
        while True:
            try:
                return await self._handle(jobs)
            except Exception as error:  # sorted below: nothing escapes to the bus
                reason = type(error).__name__
                if is_transient(error):
                    BATCH_RETRIES.labels(reason="transient").inc()
                    log.warning("batch_retry_transient", reason=reason, size=len(jobs), delay=delay)
                else:
                    failures += 1
                    BATCH_RETRIES.labels(reason="unexpected").inc()
                    # The type only: a database error's text may quote a document.
                    log.error("batch_failed", reason=reason, size=len(jobs), attempt=failures)
                    if failures >= ATTEMPTS:
                        return await self._one_by_one(jobs)
            if self._stopping():
                return None
            await asyncio.sleep(delay)
            delay = self._retry.after(delay)

    async def _one_by_one(self, jobs: list[Job]) -> list[Outcome] | None:
        """Isolate what keeps failing: each command alone, in order; a lone failure is final."""
        if len(jobs) == 1:
            await self._announce_given_up(jobs[0])
            return [PermanentError("handling failed repeatedly")]
        outcomes: list[Outcome] = []
        for job in jobs:
            alone = await self._attempt([job])
            if alone is None:
                return None  # the ones already done are redelivered: duplicates, harmless
            outcomes += alone
        return outcomes

    async def _announce_given_up(self, job: Job) -> None:
        """Best effort: the dead-letter queue keeps the command whether or not this works."""
        if self._given_up is None:
            return
        try:
            await self._given_up(job)
        except Exception as error:  # already failing; the dead letter is what counts
            log.error("give_up_announcement_failed", reason=type(error).__name__)


def _settle(waiting: _Waiting, announced: asyncio.Future[None]) -> None:
    """A command's announcement is over: done, or its error (the bus retries or gives up)."""
    if waiting.outcome.done():
        return
    if announced.cancelled():
        waiting.outcome.cancel()
    elif (error := announced.exception()) is not None:
        waiting.outcome.set_exception(error)
    else:
        waiting.outcome.set_result(None)


def _abandon(batch: list[_Waiting]) -> None:
    """Shutting down: left unacked, so the broker returns them, in order, to the next consumer."""
    for waiting in batch:
        if not waiting.outcome.done():
            waiting.outcome.set_exception(TransientError("shutting down"))


def _decode(body: bytes) -> Command:
    """The command, or a PermanentError naming only the invalid fields (never their values)."""
    try:
        return decode_command(body)
    except pydantic.ValidationError as error:
        raise PermanentError(f"invalid command: {', '.join(field_names(error))}") from None
