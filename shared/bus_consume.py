"""Part of the bus façade (`shared.bus`): what a consumer's handler sees, and what its outcome
does to the message.

Handlers see a `Delivery`, never an aio-pika type. A handler that returns acks its message; one
that fails transiently is retried in place for as long as it takes (order and at-least-once are
kept without a retry queue); bad input is dead-lettered at once and a bug after a few attempts,
logged without any value the message carried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import aio_pika
import pydantic
import structlog
from aio_pika.abc import AbstractIncomingMessage
from pymongo.errors import OperationFailure

from shared.acks import Acks
from shared.errors import PermanentError, field_names
from shared.logging import correlation
from shared.metrics import BUS_CONSUMED
from shared.supervise import Backoff
from shared.transient import is_transient

log = structlog.get_logger(__name__)

UNEXPECTED_ATTEMPTS = 5
HANDLER_RETRY = Backoff(first=0.2, maximum=5.0)

Outcome = Literal["ack", "dead", "abandoned"]


@dataclass(frozen=True)
class Delivery:
    """What a consumer sees of an AMQP message: no aio-pika types leak past the bus."""

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


class Handling:
    """The handlers running for one bus's consumers, and the messages they settle.

    Counts those in flight so that closing can wait for them; `closing` tells it the bus is
    closing, so a retrying handler gives its message back instead of waiting again.
    """

    def __init__(self, *, closing: Callable[[], bool]) -> None:
        self._closing = closing
        self._in_flight = 0
        self._acks = Acks()
        self._idle = asyncio.Event()
        self._idle.set()

    async def process(self, label: str, message: AbstractIncomingMessage, handler: Handler) -> None:
        """Run `handler` on `message` (from the queue `label` names in metrics) and settle it:
        acked once done, rejected to the dead letters, or left unacked when abandoned."""
        self._acks.started(message)  # before any await: see shared/acks.py
        self._in_flight += 1
        self._idle.clear()
        delivery = Delivery.of(message)
        try:
            with correlation(delivery.correlation_id):
                outcome = await self._run_handler(handler, delivery)
            if outcome == "ack":
                self._acks.done(message)  # with others at the end of the loop's turn
            elif outcome == "dead":
                await message.reject(requeue=False)
                self._acks.settled(message)
            BUS_CONSUMED.labels(queue=label, outcome=outcome).inc()
        except aio_pika.exceptions.AMQPError:
            # The channel is gone: the broker redelivers the unacked message to someone.
            log.warning("bus_ack_lost", queue=label)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _run_handler(self, handler: Handler, delivery: Delivery) -> Outcome:
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
            if self._closing():
                return "abandoned"  # left unacked: the broker redelivers after we close
            await asyncio.sleep(delay)
            delay = HANDLER_RETRY.after(delay)

    async def drain(self, grace: float) -> None:
        """Wait up to `grace` seconds for the handlers in flight to finish."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=grace)
        except TimeoutError:
            log.warning("bus_shutdown_in_flight_abandoned", in_flight=self._in_flight)

    async def flush(self) -> None:
        """Send the acks still held (`shared.acks`): what was done is acked before closing."""
        await self._acks.flush()


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
