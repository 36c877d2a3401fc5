"""Real-time delivery routing: keep the projections, then fan each event out to devices.

Every handler updates its projection first and publishes afterwards, and is safe to run
again for the same event: projections are upserts, delivery ids derive from
(event_id, device_id), and a pending notification is recorded once per (device, message).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from services.notification import frames
from services.notification.availability.notices import AwayNotices
from services.notification.metrics import DELIVERIES_OFFLINE, DELIVERIES_PUBLISHED
from services.notification.push import notices
from services.notification.repository import NotificationRepository, OfflineReason
from shared.deliveries import DeviceDelivery, delivery_id_for, is_device_id
from shared.events import (
    BackupChanged,
    DeliveryFailed,
    DeviceAdded,
    DeviceExpiring,
    DeviceRemoved,
    DeviceUpdated,
    MessageDeleted,
    MessageRejected,
    MessageStored,
    PasswordReset,
    ReceiptRead,
    RelationshipCreated,
    RelationshipEnded,
    RelationshipStatusChanged,
    RetentionChanged,
    UrgentAttempted,
    derive_event_id,
    utcnow,
)
from shared.recipients import device_recipients

log = structlog.get_logger(__name__)


# Publishes one delivery; False when no gateway holds the device (returned: offline).
Deliver = Callable[[DeviceDelivery], Awaitable[bool]]


@dataclass(frozen=True)
class Unacknowledged:
    """A message a device did not acknowledge (no socket, or no ack in time): a push is owed."""

    device_id: str
    conversation_id: str
    message_id: str
    urgent: bool | None = None  # None: not known here (an ack timeout names the message only)
    seq: int | None = None


# Sends an account notice by push to a device, if it has a subscription (push/notices.py):
# (device_id, idempotency key, topic, body).
Notify = Callable[[str, str, str, dict[str, Any]], Awaitable[None]]

# Told of every unacknowledged message, also again on a redelivered event (the push engine,
# services/notification/push/, is idempotent on it).
OnUnacknowledged = Callable[[Unacknowledged], Awaitable[None]]


class NotificationService:
    def __init__(
        self,
        *,
        repository: NotificationRepository,
        deliver: Deliver,
        announce_window: timedelta = timedelta(seconds=2),
        away_notices: AwayNotices | None = None,
        on_unacknowledged: OnUnacknowledged | None = None,
        notify: Notify | None = None,
    ) -> None:
        self._notify = notify
        self._repo = repository
        self._deliver = deliver
        self._away_notices = away_notices
        self._on_unacknowledged = on_unacknowledged
        # Device changes of one account within this window are announced twice at most:
        # at once, and once more when the window ends.
        self._window = announce_window

    async def message_stored(self, event: MessageStored) -> None:
        data = event.data
        # A backup key is a recipient with no socket and no push: nothing is delivered to it.
        recipients = [
            d for d in device_recipients(data.recipient_device_ids) if d != data.sender_device_id
        ]
        routed = await self._fan_out(
            event.event_id, recipients, frames.message(data), ack_message_id=data.message_id
        )
        for device_id, was_routed in routed.items():
            if not was_routed:
                owed = Unacknowledged(
                    device_id, data.conversation_id, data.message_id, data.urgent, data.seq
                )
                await self._offline(owed, "unroutable")
        await self._coach_away(event)

    async def _coach_away(self, event: MessageStored) -> None:
        """A client's message while the coach is unavailable: once per stretch, on every
        device of the client (API.md, "Coach availability")."""
        if self._away_notices is None:
            return
        notice = await self._away_notices.for_message(event)
        if notice is not None:
            devices = await self._repo.active_devices([notice.client_account_id])
            await self._fan_out(notice.notice_id, devices, notice.frame)
            await self._away_notices.sent(notice)

    async def delivery_failed(self, event: DeliveryFailed) -> None:
        data = event.data
        owed = Unacknowledged(
            data.device_id, data.conversation_id, data.message_id, data.urgent, data.seq
        )
        await self._offline(owed, "ack_timeout")

    async def message_deleted(self, event: MessageDeleted) -> None:
        data = event.data
        recipients = device_recipients(data.recipient_device_ids)
        await self._fan_out(event.event_id, recipients, frames.message_deleted(data))

    async def message_rejected(self, event: MessageRejected) -> None:
        data = event.data
        await self._fan_out(event.event_id, [data.sender_device_id], frames.message_rejected(data))

    async def receipt_read(self, event: ReceiptRead) -> None:
        """To all of the reader's own devices, and to the counterpart's only if the reader
        shares read receipts (a client does not until they opt in)."""
        data = event.data
        accounts = {data.account_id}
        if data.share:
            relationship = await self._repo.relationship(data.conversation_id)
            if relationship is None:
                log.warning("read_for_unknown_conversation", conversation_id=data.conversation_id)
            else:
                accounts.update(relationship.participants)
        devices = await self._repo.active_devices(accounts)
        await self._fan_out(event.event_id, devices, frames.read(data))

    async def relationship_created(self, event: RelationshipCreated) -> None:
        data = event.data
        await self._repo.relationship_created(
            data.conversation_id, data.coach_account_id, data.client_account_id
        )
        devices = await self._repo.active_devices([data.coach_account_id, data.client_account_id])
        await self._fan_out(
            event.event_id, devices, frames.relationship(data.conversation_id, "active")
        )

    async def relationship_ended(self, event: RelationshipEnded) -> None:
        conversation_id = event.data.conversation_id
        await self._repo.relationship_ended(conversation_id)
        relationship = await self._repo.relationship(conversation_id)
        if relationship is None:  # ended before we saw it created: nobody to tell yet
            log.warning("ended_unknown_relationship", conversation_id=conversation_id)
            return
        devices = await self._repo.active_devices(relationship.participants)
        await self._fan_out(event.event_id, devices, frames.relationship(conversation_id, "ended"))

    async def relationship_status_changed(self, event: RelationshipStatusChanged) -> None:
        """Paused or resumed: both sides' devices hear it, with the coach's reason and date."""
        data = event.data
        await self._repo.relationship_status(data.conversation_id, data.status)
        devices = await self._repo.active_devices([data.coach_account_id, data.client_account_id])
        frame = frames.relationship(data.conversation_id, data.status, data.reason, data.resume_on)
        await self._fan_out(event.event_id, devices, frame)

    async def urgent_attempted(self, event: UrgentAttempted) -> None:
        """Only the coach's devices hear it (the gateway checked the coach's setting)."""
        data = event.data
        devices = await self._repo.active_devices([data.coach_account_id])
        frame = frames.urgent_attempt(data.conversation_id)
        await self._fan_out(event.event_id, devices, frame)

    async def retention_changed(self, event: RetentionChanged) -> None:
        """Both sides learn the conversation's effective retention (applied by messaging)."""
        data = event.data
        relationship = await self._repo.relationship(data.conversation_id)
        if relationship is None:  # announced before `relationship.created` arrived
            log.warning("retention_for_unknown_conversation", conversation_id=data.conversation_id)
            return
        devices = await self._repo.active_devices(relationship.participants)
        frame = frames.retention(data.conversation_id, data.retention_days)
        await self._fan_out(event.event_id, devices, frame)

    async def device_added(self, event: DeviceAdded | DeviceUpdated) -> None:
        """Also `device.updated` (kx rotation, resumed with new keys)."""
        await self._repo.device_active(event.data.account_id, event.data.device_id)
        await self._devices_changed(event.event_id, event.data.account_id, event.data.device_id)

    async def device_removed(self, event: DeviceRemoved) -> None:
        await self._repo.device_removed(event.data.account_id, event.data.device_id)
        await self._devices_changed(event.event_id, event.data.account_id, event.data.device_id)

    async def password_reset(self, event: PasswordReset) -> None:
        """The account's own devices were told by the gateway before their sockets closed (an
        `account` frame); here they get a calm push, and the counterparts' devices the frame."""
        account_id = event.data.account_id
        counterparts = await self._repo.counterparts(account_id)
        others = await self._repo.active_devices(counterparts)
        await self._fan_out(event.event_id, others, frames.password_reset(account_id))
        if self._notify is not None:
            for device_id in await self._repo.active_devices([account_id]):
                await self._notify(
                    device_id, event.event_id, notices.PASSWORD_RESET_TOPIC,
                    notices.password_reset_body(),
                )  # fmt: skip

    async def device_expiring(self, event: DeviceExpiring) -> None:
        """The device will be signed out unless it is used: a frame and a calm push."""
        data = event.data
        frame = frames.device_expiring(data.device_id, data.expires_at)
        await self._fan_out(event.event_id, [data.device_id], frame)
        if self._notify is not None:
            await self._notify(
                data.device_id, event.event_id, notices.DEVICE_EXPIRING_TOPIC,
                notices.device_expiring_body(data.expires_at),
            )  # fmt: skip

    async def backup_changed(self, event: BackupChanged) -> None:
        """The account's backup key (a recipient) was published, replaced or removed: announced
        like a device change, to all of the account's devices (the publishing one too)."""
        await self._devices_changed(event.event_id, event.data.account_id, None)

    async def _devices_changed(self, event_id: str, account_id: str, device_id: str | None) -> None:
        """Announced at once, unless this account's devices were announced within the window
        (a login that replaces a device, a burst of rotations): then once when it ends."""
        if not await self._repo.claim_announcement(account_id, utcnow(), self._window):
            log.info("devices_changed_debounced", account_id=account_id)
            return
        await self._announce(event_id, account_id, changed_device_id=device_id)

    async def announce_due(self) -> int:
        """The trailing announcements of debounced accounts; any replica may send each once."""
        now = utcnow()
        due = await self._repo.due_announcements(now, self._window)
        for account_id in due:
            event_id = derive_event_id("devices_changed", f"{account_id}:{now.isoformat()}")
            await self._announce(event_id, account_id, changed_device_id=None)
        return len(due)

    async def _announce(
        self, event_id: str, account_id: str, *, changed_device_id: str | None
    ) -> None:
        """To the account's other devices and to its counterparts in relationships that have
        not ended."""
        accounts = {account_id, *await self._repo.counterparts(account_id)}
        devices = [d for d in await self._repo.active_devices(accounts) if d != changed_device_id]
        await self._fan_out(event_id, devices, frames.devices_changed(account_id))

    async def _fan_out(
        self,
        event_id: str,
        device_ids: Iterable[str],
        frame: frames.Frame,
        *,
        ack_message_id: str | None = None,
    ) -> dict[str, bool]:
        """Publish the frame to each device concurrently; whether each was routed."""
        targets = list(dict.fromkeys(d for d in device_ids if self._valid(d)))
        deliveries = [
            DeviceDelivery(
                delivery_id=delivery_id_for(event_id, device_id),
                device_id=device_id,
                kind="frame",
                frame=frame,
                ack_message_id=ack_message_id,
            )
            for device_id in targets
        ]
        outcomes = await asyncio.gather(*(self._deliver(d) for d in deliveries))
        for routed in outcomes:
            outcome = "routed" if routed else "returned"
            DELIVERIES_PUBLISHED.labels(frame=frame.type, outcome=outcome).inc()
        log.info(
            "deliveries_published",
            frame=frame.type,
            event_id=event_id,
            routed=sum(outcomes),
            returned=len(outcomes) - sum(outcomes),
        )
        return dict(zip(targets, outcomes, strict=True))

    async def _offline(self, owed: Unacknowledged, reason: OfflineReason) -> None:
        """Record the notification owed to an offline device, then hand it to the push engine."""
        device_id, conversation_id, message_id = (
            owed.device_id,
            owed.conversation_id,
            owed.message_id,
        )
        if await self._repo.record_pending(device_id, conversation_id, message_id, reason):
            DELIVERIES_OFFLINE.labels(reason=reason).inc()
            log.info(
                "delivery_pending",
                device_id=device_id,
                conversation_id=conversation_id,
                message_id=message_id,
                reason=reason,
            )
        if self._on_unacknowledged is not None:
            await self._on_unacknowledged(owed)

    @staticmethod
    def _valid(device_id: str) -> bool:
        if is_device_id(device_id):
            return True
        log.warning("delivery_skipped_invalid_device_id")
        return False
