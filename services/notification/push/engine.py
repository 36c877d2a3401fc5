"""From an unacknowledged delivery to a queued push job: collapse, deferral, exactly once.

`owed` is told of every message a device did not acknowledge. If the device has a push
subscription, its slot (device, conversation) is scheduled no later than the collapse window
allows. Every replica's sweeper claims due slots (`Outbox.claim_due`, a lease in MongoDB),
asks the deferral policies, and either defers the slot (`not_before`) or queues ONE job for
everything the slot holds and marks it sent. WebSocket delivery never comes this way, so it
is never deferred.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog
from pymongo.errors import PyMongoError

from services.notification.metrics import PUSHES_DEFERRED
from services.notification.push.jobs import PushJob, PushQueue
from services.notification.push.outbox import Outbox, Owed, Slot
from services.notification.push.repository import PushRepository
from services.notification.push.schedule import (
    DeferralPolicy,
    collapse_due,
    send_after,
    window_end,
)
from services.notification.push.signing import push_body
from services.notification.service import Unacknowledged
from shared.consumers import EventHandler
from shared.events import (
    AccountDeleted,
    DeviceRemoved,
    ReceiptRead,
    RelationshipCreated,
    utcnow,
)
from shared.transient import is_transient

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
SWEEP_BATCH = 100
SET_ASIDE = timedelta(minutes=1)  # a slot whose preparation failed unexpectedly waits this long


def push_delivery_id(device_id: str, conversation_id: str, message_ids: list[str]) -> str:
    """The same for the same messages to the same device: a job prepared twice (a replica died
    before marking it sent) is the same delivery to the gateway."""
    key = "\x00".join(["push", device_id, conversation_id, *sorted(message_ids)])
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


class PushEngine:
    def __init__(
        self,
        *,
        outbox: Outbox,
        repository: PushRepository,
        queue: PushQueue,
        policies: Mapping[str, DeferralPolicy],
        collapse: timedelta,
        lease: timedelta,
        clock: Clock = utcnow,
    ) -> None:
        self._outbox = outbox
        self._repo = repository
        self._queue = queue
        # Read at every decision: a policy registered after start-up counts from then on.
        self._policies = policies
        self._collapse = collapse
        self._lease = lease
        self._clock = clock
        # Set when a push became due at once: the sweeper looks now, not at its next tick.
        self.due_now = asyncio.Event()

    async def owed(self, item: Unacknowledged) -> None:
        subscription = await self._repo.subscription(item.device_id)
        if subscription is None:
            return  # no push gateway: the row waits for the device to sync (and retention)
        owed = self._owed(item)
        account_id = subscription.account_id
        await self._outbox.annotate(item.device_id, item.message_id, account_id, owed)
        window_until = await self._outbox.window_until(item.device_id, item.conversation_id)
        now = self._clock()
        due = collapse_due(now, urgent=owed.urgent, window_until=window_until)
        await self._outbox.open_slot(item.device_id, item.conversation_id, account_id, due)
        if due <= now:
            self.due_now.set()

    async def notice(self, device_id: str, key: str, topic: str, body: dict[str, Any]) -> None:
        """An account notice (push/notices.py) to a device that has a push subscription: queued
        at once, one job per (key, device) — a redelivered event gives the same delivery id."""
        subscription = await self._repo.subscription(device_id)
        if subscription is None:
            return
        delivery_id = hashlib.blake2b(
            f"notice\x00{key}\x00{device_id}".encode(), digest_size=16
        ).hexdigest()
        job = PushJob(
            delivery_id=delivery_id,
            device_id=device_id,
            account_id=subscription.account_id,
            conversation_id=topic,
            body=body,
            queued_at=self._clock(),
        )
        await self._queue.submit(job)
        log.info("push_notice_queued", device_id=device_id, event=body.get("event"))

    @staticmethod
    def _owed(item: Unacknowledged) -> Owed:
        """Urgency and seq come with the item (a `delivery.failed` carries them from the frame
        the gateway sent); one from an older gateway counts as not urgent."""
        return Owed(item.message_id, bool(item.urgent), item.seq)

    async def sweep(self) -> int:
        """Prepare the due pushes this replica can claim; how many slots it handled."""
        handled = 0
        while handled < SWEEP_BATCH:
            slot = await self._outbox.claim_due(self._clock(), self._lease)
            if slot is None:
                break
            try:
                await self._prepare(slot)
            except Exception as error:
                await self._failed(slot, error)
            handled += 1
        return handled

    async def _failed(self, slot: Slot, error: Exception) -> None:
        """An outage ends the round (the slot is released for the next one); anything else,
        a bug or a failing policy, sets this slot aside for a while and the round goes on."""
        if is_transient(error):
            with contextlib.suppress(PyMongoError):  # else the lease runs out by itself
                await self._outbox.release(slot)
            raise error
        log.exception("push_prepare_failed", device_id=slot.device_id)
        await self._outbox.defer(slot, self._clock() + SET_ASIDE)

    async def _prepare(self, slot: Slot) -> None:
        now = self._clock()
        rows = await self._outbox.unsent(slot.device_id, slot.conversation_id)
        if not rows:
            await self._outbox.settle(slot, [], now)
            return
        urgent = any(row.urgent for row in rows)
        until = await self._not_before(slot, urgent, now)
        if until is not None:
            await self._outbox.defer(slot, until)
            return
        job = await self._job(slot, rows, urgent, now)
        await self._queue.submit(job)
        await self._outbox.settle(slot, rows, now, window_end(now, self._collapse))
        log.info(
            "push_queued",
            device_id=slot.device_id,
            conversation_id=slot.conversation_id,
            delivery_id=job.delivery_id,
            messages=len(rows),
            urgent=urgent,
        )

    async def _not_before(self, slot: Slot, urgent: bool, now: datetime) -> datetime | None:
        waits: dict[str, datetime | None] = {}
        for name, policy in list(self._policies.items()):
            waits[name] = await policy(
                slot.account_id, slot.device_id, slot.conversation_id, urgent, now
            )
        window = None if urgent else slot.window_until
        until = send_after(now, window, waits.values())
        if until is None:
            return None
        for name in [name for name, wait in waits.items() if wait == until]:
            PUSHES_DEFERRED.labels(policy=name).inc()
            log.info(
                "push_deferred",
                policy=name,
                device_id=slot.device_id,
                conversation_id=slot.conversation_id,
                not_before=until.isoformat(),
            )
        return until

    async def _job(self, slot: Slot, rows: list[Owed], urgent: bool, now: datetime) -> PushJob:
        detail = await self._repo.detail(slot.account_id, slot.conversation_id)
        name = None
        if detail == "sender":
            name = await self._repo.counterpart_name(slot.conversation_id, slot.account_id)
        body = push_body(
            detail,
            slot.conversation_id,
            slot.unread_before + len(rows),
            urgent=urgent,
            sender_display_name=name,
        )
        message_ids = [row.message_id for row in rows]
        return PushJob(
            delivery_id=push_delivery_id(slot.device_id, slot.conversation_id, message_ids),
            device_id=slot.device_id,
            account_id=slot.account_id,
            conversation_id=slot.conversation_id,
            body=body,
            urgent=urgent,
            queued_at=now,
        )

    async def wake(self, account_id: str) -> None:
        """Look at the account's deferred pushes again now (its settings changed)."""
        await self._outbox.wake(account_id, self._clock())

    async def expire(self, retention: timedelta) -> int:
        return await self._outbox.expire(self._clock(), retention)

    # --- events ------------------------------------------------------------------------

    def handlers(self) -> dict[str, EventHandler]:
        """Run after the service's own handler for the same event type."""
        return {
            "receipt.read": self.receipt_read,
            "device.removed": self.device_removed,
            "relationship.created": self.relationship_created,
            "account.deleted": self.account_deleted,
        }

    async def receipt_read(self, event: ReceiptRead) -> None:
        data = event.data
        await self._outbox.read(
            data.account_id, data.conversation_id, data.up_to_seq, self._clock()
        )

    async def device_removed(self, event: DeviceRemoved) -> None:
        """A removed device loses its subscription and everything owed to it."""
        await self._repo.delete_subscription(event.data.device_id)
        await self._outbox.forget_device(event.data.device_id)

    async def account_deleted(self, event: AccountDeleted) -> None:
        """Idempotent: the account's push data goes (its devices' `device.removed` too)."""
        await self._repo.forget_account(event.data.account_id)
        await self._outbox.forget_account(event.data.account_id)

    async def relationship_created(self, event: RelationshipCreated) -> None:
        data = event.data
        names = {
            data.coach_account_id: data.coach_display_name,
            data.client_account_id: data.client_display_name,
        }
        known = {account: name for account, name in names.items() if name}
        if known:
            await self._repo.remember_names(data.conversation_id, known)
