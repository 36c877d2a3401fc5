"""One push job from the work queue: sign (webhook) or encrypt and authorise (Web Push), POST,
and act on the verdict. Only the transport differs between the kinds.

2xx: marked sent (a redelivered job is skipped). 410 (and 404 from a push service): the
subscription is deleted with what was owed to the device. Network errors, timeouts, 408, 429,
5xx: retried through the next delay queue, then dead-lettered. Anything else, a refused
address or an unreadable secret: dead-lettered at once with the reason. The secret (or a
subscription's keys) is opened for the POST only and never leaves this module; logs and
metrics name the host at most, never the URL (a Web Push endpoint's path is a capability).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
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
from services.notification.push.repository import PushRepository, Subscription
from services.notification.push.sealing import SecretSealer, UnreadableSecretError
from services.notification.push.sender import Attempt, PushSender, verdict
from services.notification.push.signing import encode_body, signed_headers
from services.notification.push.urlguard import UrlGuard
from services.notification.push.webpush import (
    Subscriber,
    UnusableSubscriptionError,
    VapidKey,
    sealing_context,
    webpush_request,
)
from shared.bus import Delivery
from shared.events import utcnow

log = structlog.get_logger(__name__)
WEBPUSH_GONE = (404, 410)


@dataclass(frozen=True)
class WebPushConfig:
    """What a Web Push needs beyond a webhook's: the key, the allowlist, the TTL."""

    vapid: VapidKey
    guard: UrlGuard
    ttl: int


class PushDelivery:
    def __init__(
        self,
        outbox: Outbox,
        repository: PushRepository,
        queue: PushQueue,
        sender: PushSender,
        sealer: SecretSealer,
        webpush: WebPushConfig,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._webpush = webpush
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
            attempt = await self._post(job, subscription)
        except UnreadableSecretError:
            log.error("push_secret_unreadable", device_id=job.device_id, kind=subscription.kind)
            await self._give_up(job, "secret_unreadable")
            return
        except UnusableSubscriptionError as error:
            log.error("webpush_unusable", device_id=job.device_id, reason=str(error))
            await self._give_up(job, "webpush_unusable")
            return
        await self._after(job, attempt, subscription)

    async def _post(self, job: PushJob, subscription: Subscription) -> Attempt:
        body = encode_body(job.body)
        if subscription.kind == "webhook":
            secret = self._sealer.open(
                subscription.sealed_secret, job.device_id, subscription.key_id
            )
            headers = signed_headers(secret, job.delivery_id, body, time.time())
            return await self._sender.post(subscription.url, headers, body)
        opened = self._sealer.open(
            subscription.sealed_secret, sealing_context(job.device_id), subscription.key_id
        )
        headers, encrypted = await asyncio.to_thread(  # ECDH, HKDF, AES-GCM, ECDSA
            webpush_request,
            self._webpush.vapid,
            subscription.url,
            Subscriber.opened(opened),
            body,
            conversation_id=job.conversation_id,
            urgent=job.urgent,
            ttl=self._webpush.ttl,
        )
        return await self._sender.post(subscription.url, headers, encrypted, self._webpush.guard)

    async def _after(self, job: PushJob, attempt: Attempt, subscription: Subscription) -> None:
        gone = WEBPUSH_GONE if subscription.kind == "webpush" else (410,)
        outcome = verdict(attempt, gone=gone)
        PUSH_LATENCY.labels(verdict=outcome).observe(attempt.seconds)
        if outcome == "sent":
            await self._outbox.mark_sent(job.delivery_id, self._clock())
            PUSHES_SENT.labels(event=str(job.body.get("event"))).inc()
            log.info(
                "push_sent",
                delivery_id=job.delivery_id,
                attempt=job.attempt,
                kind=subscription.kind,
                host=subscription.host,
            )
        elif outcome == "gone":
            await self._repo.delete_subscription(job.device_id)
            await self._outbox.forget_device(job.device_id)
            PUSHES_FAILED.labels(reason=attempt.reason, action="unsubscribed").inc()
            log.info("push_subscription_gone", device_id=job.device_id, kind=subscription.kind)
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
