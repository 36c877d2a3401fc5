"""One push job from the work queue: sign, POST, and act on the verdict.

2xx: marked sent (a redelivered job is skipped). 410: the subscription is deleted with what
was owed to the device. Network errors, timeouts, 408, 429, 5xx: retried through the next
delay queue, then dead-lettered. Anything else, a refused address or an unreadable secret:
dead-lettered at once with the reason. The secret is opened for the POST only and never
leaves this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import structlog

from services.notification.metrics import (
    PUSH_LATENCY,
    PUSHES_DEAD_LETTERED,
    PUSHES_FAILED,
    PUSHES_SENT,
)
from services.notification.push.jobs import PushJob, PushQueue
from services.notification.push.outbox import Outbox
from services.notification.push.repository import PushRepository
from services.notification.push.sealing import SecretSealer, UnreadableSecretError
from services.notification.push.sender import Attempt, PushSender, verdict
from services.notification.push.signing import encode_body, signed_headers
from shared.bus import Delivery
from shared.events import utcnow

log = structlog.get_logger(__name__)


class PushDelivery:
    def __init__(
        self,
        *,
        outbox: Outbox,
        repository: PushRepository,
        queue: PushQueue,
        sender: PushSender,
        sealer: SecretSealer,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._outbox = outbox
        self._repo = repository
        self._queue = queue
        self._sender = sender
        self._sealer = sealer
        self._clock = clock

    async def handle(self, delivery: Delivery) -> None:
        """The work queue's handler: a malformed job is a ValidationError (dead-lettered)."""
        await self.deliver(PushJob.model_validate_json(delivery.body))

    async def deliver(self, job: PushJob) -> None:
        if await self._outbox.was_sent(job.delivery_id):
            log.info("push_already_sent", delivery_id=job.delivery_id)
            return
        subscription = await self._repo.subscription(job.device_id)
        if subscription is None or subscription.account_id != job.account_id:
            PUSHES_FAILED.labels(reason="no_subscription", action="dropped").inc()
            log.info("push_dropped_no_subscription", delivery_id=job.delivery_id)
            return
        try:
            secret = self._sealer.open(
                subscription.sealed_secret, job.device_id, subscription.key_id
            )
        except UnreadableSecretError:
            log.error("push_secret_unreadable", device_id=job.device_id)
            await self._give_up(job, "secret_unreadable")
            return
        body = encode_body(job.body)
        headers = signed_headers(secret, job.delivery_id, body, time.time())
        attempt = await self._sender.post(subscription.url, headers, body)
        await self._after(job, attempt)

    async def _after(self, job: PushJob, attempt: Attempt) -> None:
        outcome = verdict(attempt)
        PUSH_LATENCY.labels(verdict=outcome).observe(attempt.seconds)
        if outcome == "sent":
            await self._outbox.mark_sent(job.delivery_id, self._clock())
            PUSHES_SENT.labels(event=str(job.body.get("event"))).inc()
            log.info("push_sent", delivery_id=job.delivery_id, attempt=job.attempt)
        elif outcome == "gone":
            await self._repo.delete_subscription(job.device_id)
            await self._outbox.forget_device(job.device_id)
            PUSHES_FAILED.labels(reason=attempt.reason, action="unsubscribed").inc()
            log.info("push_subscription_gone", device_id=job.device_id)
        elif outcome == "retry" and self._queue.can_retry(job):
            await self._queue.retry(job)
            PUSHES_FAILED.labels(reason=attempt.reason, action="retried").inc()
            log.info(
                "push_retry",
                delivery_id=job.delivery_id,
                attempt=job.attempt,
                reason=attempt.reason,
                delay_ms=self._queue.delays_ms[job.attempt],
            )
        else:
            await self._give_up(job, attempt.reason)

    async def _give_up(self, job: PushJob, reason: str) -> None:
        await self._queue.dead(job, reason)
        PUSHES_FAILED.labels(reason=reason, action="dead_lettered").inc()
        PUSHES_DEAD_LETTERED.labels(reason=reason).inc()
        log.warning(
            "push_dead_lettered", delivery_id=job.delivery_id, attempt=job.attempt, reason=reason
        )
