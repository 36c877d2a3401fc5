"""Server→client WebSocket frames (shared/frames.py) built from events."""

from __future__ import annotations

from datetime import datetime

from shared.events import MessageDeletedData, ReceiptData, RejectedData, StoredMessageData
from shared.frames import (
    AccountNotice,
    CoachAway,
    DeviceExpiringFrame,
    DevicesChanged,
    MessageDeleted,
    MessageFrame,
    MessageRejected,
    Read,
    RelationshipChanged,
    RelationshipStatus,
    RetentionChanged,
    ServerFrame,
    UrgentAttempt,
)
from shared.wire import MessageItem

Frame = ServerFrame


def message(data: StoredMessageData) -> MessageFrame:
    """The same item as in history; the envelope passes through untouched (ciphertext)."""
    item = MessageItem(
        message_id=data.message_id,
        conversation_id=data.conversation_id,
        seq=data.seq,
        sender_account_id=data.sender_account_id,
        sender_device_id=data.sender_device_id,
        server_ts=data.server_ts,
        urgent=data.urgent,
        deleted=False,
        envelope=data.envelope,
    )
    return MessageFrame(message=item)


def message_deleted(data: MessageDeletedData) -> MessageDeleted:
    return MessageDeleted(
        conversation_id=data.conversation_id, message_id=data.message_id, seq=data.seq
    )


def read(data: ReceiptData) -> Read:
    return Read(
        conversation_id=data.conversation_id, account_id=data.account_id, up_to_seq=data.up_to_seq
    )


def devices_changed(account_id: str) -> DevicesChanged:
    return DevicesChanged(account_id=account_id)


def password_reset(account_id: str) -> AccountNotice:
    return AccountNotice(event="password_reset", account_id=account_id)


def device_expiring(device_id: str, expires_at: datetime) -> DeviceExpiringFrame:
    return DeviceExpiringFrame(device_id=device_id, expires_at=expires_at)


def relationship(
    conversation_id: str,
    status: RelationshipStatus,
    reason: str | None = None,
    resume_on: str | None = None,
) -> RelationshipChanged:
    return RelationshipChanged(
        conversation_id=conversation_id, status=status, reason=reason, resume_on=resume_on
    )


def urgent_attempt(conversation_id: str) -> UrgentAttempt:
    """The coach's notice of a client's urgent attempt during a pause: no content, no id."""
    return UrgentAttempt(conversation_id=conversation_id)


def retention(conversation_id: str, retention_days: int | None) -> RetentionChanged:
    return RetentionChanged(conversation_id=conversation_id, retention_days=retention_days)


def message_rejected(data: RejectedData) -> MessageRejected:
    return MessageRejected(
        conversation_id=data.conversation_id,
        message_id=data.message_id,
        code=data.code,
        detail=data.detail,
    )


def coach_away(
    conversation_id: str,
    away_message: str,
    response_time_hours: int,
    next_available_at: datetime | None,
    backup_contact: str | None = None,
) -> CoachAway:
    """To a client whose message reached the coach outside hours or while away."""
    given = {} if backup_contact is None else {"backup_contact": backup_contact}  # else absent
    return CoachAway(
        conversation_id=conversation_id,
        away_message=away_message,
        response_time_hours=response_time_hours,
        next_available_at=next_available_at,
        **given,
    )
