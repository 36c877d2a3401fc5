"""Server→client WebSocket frames (API.md, "Server → client frames"), built from events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from shared.events import MessageDeletedData, ReceiptData, RejectedData, StoredMessageData
from shared.wire import MessageItem, iso_utc

Frame = dict[str, Any]


def message(data: StoredMessageData) -> Frame:
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
    return {"type": "message", "message": item.model_dump(mode="json")}


def message_deleted(data: MessageDeletedData) -> Frame:
    return {
        "type": "message_deleted",
        "conversation_id": data.conversation_id,
        "message_id": data.message_id,
        "seq": data.seq,
    }


def read(data: ReceiptData) -> Frame:
    return {
        "type": "read",
        "conversation_id": data.conversation_id,
        "account_id": data.account_id,
        "up_to_seq": data.up_to_seq,
    }


def devices_changed(account_id: str) -> Frame:
    return {"type": "devices_changed", "account_id": account_id}


def relationship(
    conversation_id: str,
    status: Literal["active", "paused", "ended"],
    reason: str | None = None,
    resume_on: str | None = None,
) -> Frame:
    return {
        "type": "relationship",
        "conversation_id": conversation_id,
        "status": status,
        "reason": reason,
        "resume_on": resume_on,
    }


def urgent_attempt(conversation_id: str) -> Frame:
    """The coach's notice of a client's urgent attempt during a pause: no content, no id."""
    return {"type": "urgent_attempt", "conversation_id": conversation_id}


def retention(conversation_id: str, retention_days: int | None) -> Frame:
    return {
        "type": "retention",
        "conversation_id": conversation_id,
        "retention_days": retention_days,
    }


def message_rejected(data: RejectedData) -> Frame:
    return {
        "type": "message_rejected",
        "conversation_id": data.conversation_id,
        "message_id": data.message_id,
        "code": data.code,
        "detail": data.detail,
    }


def coach_away(
    conversation_id: str,
    away_message: str,
    response_time_hours: int,
    next_available_at: datetime | None,
    backup_contact: str | None = None,
) -> Frame:
    """To a client whose message reached the coach outside hours or while away."""
    frame: Frame = {
        "type": "coach_away",
        "conversation_id": conversation_id,
        "away_message": away_message,
        "response_time_hours": response_time_hours,
        "next_available_at": None if next_available_at is None else iso_utc(next_available_at),
    }
    if backup_contact is not None:
        frame["backup_contact"] = backup_contact
    return frame
