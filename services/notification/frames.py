"""Server→client WebSocket frames (API.md, "Server → client frames"), built from events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from shared.events import MessageDeletedData, ReceiptData, RejectedData, StoredMessageData

Frame = dict[str, Any]


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, as pydantic renders datetimes elsewhere in the API."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def message(data: StoredMessageData) -> Frame:
    """The same item as in history; the envelope passes through untouched (ciphertext)."""
    return {
        "type": "message",
        "message": {
            "message_id": data.message_id,
            "conversation_id": data.conversation_id,
            "seq": data.seq,
            "sender_account_id": data.sender_account_id,
            "sender_device_id": data.sender_device_id,
            "server_ts": iso_utc(data.server_ts),
            "urgent": data.urgent,
            "deleted": False,
            "envelope": data.envelope,
        },
    }


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


def relationship(conversation_id: str, status: Literal["active", "ended"]) -> Frame:
    return {"type": "relationship", "conversation_id": conversation_id, "status": status}


def message_rejected(data: RejectedData) -> Frame:
    return {
        "type": "message_rejected",
        "conversation_id": data.conversation_id,
        "message_id": data.message_id,
        "code": data.code,
        "detail": data.detail,
    }
