"""Stored message documents, and the events and history items made from them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.commands import SendData
from shared.errors import PermanentFailure
from shared.events import (
    MessageDeleted,
    MessageDeletedData,
    MessageRejected,
    MessageStored,
    RejectedData,
    StoredMessageData,
    derive_event_id,
)
from shared.mongo import Document


def server_now() -> datetime:
    """Millisecond precision, as BSON stores it: an event re-published from the stored document
    then carries exactly the `server_ts` of the first one."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def message_key(conversation_id: str, message_id: str) -> str:
    """A message's `_id`, so duplicates are found by primary key; a message id is a UUID,
    so the last ':' separates the two unambiguously."""
    return f"{conversation_id}:{message_id}"


def check_envelope(data: SendData) -> None:
    """What storing relies on; the gateway verified the rest before it accepted the message."""
    keys, signature = data.envelope.get("keys"), data.envelope.get("signature")
    if not isinstance(keys, dict) or not keys or not all(isinstance(k, str) for k in keys):
        raise PermanentFailure("envelope.keys must name the recipient devices")
    if not isinstance(signature, str) or not signature:
        raise PermanentFailure("envelope.signature is missing")
    if data.envelope.get("message_id") not in (None, data.message_id):
        raise PermanentFailure("envelope.message_id differs from the command's")


def signature_of(data: SendData) -> str:
    return str(data.envelope["signature"])


def message_document(data: SendData, seq: int, server_ts: datetime) -> Document:
    keys = data.envelope["keys"]
    assert isinstance(keys, dict)  # check_envelope ran first
    return {
        "_id": message_key(data.conversation_id, data.message_id),
        "conversation_id": data.conversation_id,
        "message_id": data.message_id,
        "seq": seq,
        "sender_account_id": data.sender_account_id,
        "sender_device_id": data.sender_device_id,
        "server_ts": server_ts,
        "urgent": data.urgent,
        "envelope": data.envelope,
        "recipient_device_ids": sorted(keys),
        "deleted": False,
        "signature": signature_of(data),
    }


def stored_event(doc: Document, correlation_id: str | None) -> MessageStored:
    """Deterministic in everything but the correlation id, however often it is re-published."""
    return MessageStored(
        event_id=derive_event_id("message.stored", f"{doc['conversation_id']}:{doc['message_id']}"),
        occurred_at=doc["server_ts"],
        correlation_id=correlation_id,
        data=StoredMessageData(
            conversation_id=doc["conversation_id"],
            message_id=doc["message_id"],
            seq=doc["seq"],
            sender_account_id=doc["sender_account_id"],
            sender_device_id=doc["sender_device_id"],
            server_ts=doc["server_ts"],
            urgent=doc["urgent"],
            envelope=doc["envelope"],
            recipient_device_ids=doc["recipient_device_ids"],
        ),
    )


def deleted_event(doc: Document, correlation_id: str | None) -> MessageDeleted:
    key = f"{doc['conversation_id']}:{doc['message_id']}"
    return MessageDeleted(
        event_id=derive_event_id("message.deleted", key),
        occurred_at=doc.get("deleted_at") or server_now(),
        correlation_id=correlation_id,
        data=MessageDeletedData(
            conversation_id=doc["conversation_id"],
            message_id=doc["message_id"],
            seq=doc["seq"],
            deleted_by=doc["sender_account_id"],
            recipient_device_ids=doc["recipient_device_ids"],
        ),
    )


def rejected_event(
    data: SendData, code: str, detail: str, correlation_id: str | None
) -> MessageRejected:
    signature = data.envelope.get("signature")
    key = f"{data.conversation_id}:{data.message_id}:{code}:{signature}"
    return MessageRejected(
        event_id=derive_event_id("message.rejected", key),
        correlation_id=correlation_id,
        data=RejectedData(
            conversation_id=data.conversation_id,
            message_id=data.message_id,
            sender_account_id=data.sender_account_id,
            sender_device_id=data.sender_device_id,
            code=code,
            detail=detail,
        ),
    )


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, exactly as the WebSocket `message` frame renders it."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def history_item(doc: Document) -> dict[str, Any]:
    """API.md's history item: a deleted message keeps its place but has no envelope."""
    item = {
        "message_id": doc["message_id"],
        "conversation_id": doc["conversation_id"],
        "seq": doc["seq"],
        "sender_account_id": doc["sender_account_id"],
        "sender_device_id": doc["sender_device_id"],
        "server_ts": iso_utc(doc["server_ts"]),
        "urgent": doc["urgent"],
        "deleted": bool(doc.get("deleted")),
    }
    if not item["deleted"] and "envelope" in doc:
        item["envelope"] = doc["envelope"]
    return item
