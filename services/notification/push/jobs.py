"""Push jobs on RabbitMQ: the work queue, one delay queue per retry delay, and `haven.dead`.

A job is queued on `haven.push` (key `push`) → `notification.push`, consumed with a prefetch
of the configured concurrency. A retry republishes it with `attempt + 1` to the delay queue
of its attempt (`notification.push.delay.<ms>`, TTL = ms), whose dead-letter exchange hands it
back to the work queue when the TTL ends: no process sleeps, and a restart loses nothing.
The delay queues are quorum queues with `x-expires`, re-declared every minute by every
replica, so they go away by themselves when the delays change or notification is gone.
After the last delay it goes to `haven.dead` with `failure` set to the reason. The job carries
the push body (content-free) and never the secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from shared import topology as topo
from shared.bus import CHANNEL_ERRORS, Bus
from shared.errors import UnavailableError
from shared.events import Schema


class PushJob(Schema):
    delivery_id: str = Field(min_length=1, max_length=128)  # X-Haven-Delivery, every attempt
    device_id: str
    account_id: str
    conversation_id: str
    body: dict[str, Any]
    urgent: bool = False  # Web Push `Urgency: high` (the body says so only above `none`)
    attempt: int = Field(default=0, ge=0)
    queued_at: datetime
    failure: str | None = None  # on a dead letter: why it was given up

    def next_attempt(self) -> PushJob:
        return self.model_copy(update={"attempt": self.attempt + 1})

    def given_up(self, reason: str) -> PushJob:
        return self.model_copy(update={"failure": reason})


class PushQueue:
    """The engine's only path to the broker for push jobs."""

    def __init__(self, *, bus: Bus, delays_ms: tuple[int, ...]) -> None:
        self._bus = bus
        self.delays_ms = delays_ms

    async def declare_delays(self) -> None:
        """The delay queues of the configured delays: idempotent, on a channel of its own that
        is closed again. Run at start and every minute (`x-expires`: shared/topology.py)."""
        connection = self._bus.connection
        if connection is None:
            raise UnavailableError("broker not connected")
        try:
            for delay_ms in sorted(set(self.delays_ms)):
                await topo.settle(connection, topo.push_delay_spec(self._bus.topology, delay_ms))
        except CHANNEL_ERRORS as error:
            raise UnavailableError(f"delay queues not declared: {type(error).__name__}") from error

    async def submit(self, job: PushJob) -> None:
        await self._publish(topo.PUSH_WORK_KEY, job, "push.job")

    def can_retry(self, job: PushJob) -> bool:
        return job.attempt < len(self.delays_ms)

    async def retry(self, job: PushJob) -> None:
        """Back into the work queue after the delay of this attempt."""
        delay_ms = self.delays_ms[job.attempt]
        await self._publish(topo.push_delay_key(delay_ms), job.next_attempt(), "push.retry")

    async def dead(self, job: PushJob, reason: str) -> None:
        dead = job.given_up(reason)
        await self._bus.publish(
            self._bus.topology.dead,
            "push.dead",
            dead.model_dump_json().encode(),
            message_id=job.delivery_id,
            message_type="push.dead",
        )

    async def _publish(self, key: str, job: PushJob, kind: str) -> None:
        await self._bus.publish(
            self._bus.topology.push,
            key,
            job.model_dump_json().encode(),
            message_id=job.delivery_id,
            message_type=kind,
        )
