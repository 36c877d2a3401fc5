"""Stored message documents, and the events and history items made from them."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.commands import SendData, SentBy
from shared.errors import PermanentError
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
from shared.wire import MessageItem


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
    """What storing relies on beyond the wire model; the gateway verified the rest."""
    if data.envelope.message_id != data.message_id:
        raise PermanentError("envelope.message_id differs from the command's")


def signature_of(data: SendData) -> str:
    return data.envelope.signature


def message_document(data: SendData, seq: int, server_ts: datetime) -> Document:
    return {
        "_id": message_key(data.conversation_id, data.message_id),
        "conversation_id": data.conversation_id,
        "message_id": data.message_id,
        "seq": seq,
        "sender_account_id": data.sender_account_id,
        "sender_device_id": data.sender_device_id,
        "server_ts": server_ts,
        "urgent": data.urgent,
        "envelope": data.envelope.model_dump(),
        "recipient_device_ids": sorted(data.envelope.keys),
        "deleted": False,
        "signature": signature_of(data),
    }


def stored_event(
    doc: Document, correlation_id: str | None, *, unroutable: list[str] | None = None
) -> MessageStored:
    """Deterministic in everything but the correlation id, however often it is re-published.

    With `unroutable` (messaging delivered the frames itself: services/messaging/delivery.py)
    the event names the devices no gateway held and leaves the envelope out."""
    data = StoredMessageData(
        conversation_id=doc["conversation_id"],
        message_id=doc["message_id"],
        seq=doc["seq"],
        sender_account_id=doc["sender_account_id"],
        sender_device_id=doc["sender_device_id"],
        server_ts=doc["server_ts"],
        urgent=doc["urgent"],
        envelope=doc["envelope"] if unroutable is None else None,
        recipient_device_ids=doc["recipient_device_ids"],
        unroutable_device_ids=unroutable,
    )
    return MessageStored.create(data, occurred_at=doc["server_ts"], correlation_id=correlation_id)


def stored_event_id(doc: Document) -> str:
    """`stored_event(doc, ...).event_id`, without building the event."""
    return derive_event_id(
        MessageStored.kind(), MessageStored.id_key_of(doc["conversation_id"], doc["message_id"])
    )


def deleted_event(doc: Document, correlation_id: str | None) -> MessageDeleted:
    data = MessageDeletedData(
        conversation_id=doc["conversation_id"],
        message_id=doc["message_id"],
        seq=doc["seq"],
        deleted_by=doc["sender_account_id"],
        recipient_device_ids=doc["recipient_device_ids"],
    )
    occurred_at = doc.get("deleted_at") or server_now()
    return MessageDeleted.create(data, occurred_at=occurred_at, correlation_id=correlation_id)


def rejected_event(
    sent: SendData | SentBy, code: str, detail: str, correlation_id: str | None
) -> MessageRejected:
    """Told to the sender; `sent` is a valid command's data or what was legible of one."""
    signature = sent.envelope.signature if isinstance(sent, SendData) else sent.signature
    data = RejectedData(
        conversation_id=sent.conversation_id,
        message_id=sent.message_id,
        sender_account_id=sent.sender_account_id,
        sender_device_id=sent.sender_device_id,
        code=code,
        detail=detail,
    )
    return MessageRejected.of_envelope(data, signature, correlation_id=correlation_id)


def history_item(doc: Document) -> MessageItem:
    """API.md's history item: a deleted message keeps its place but has no envelope."""
    deleted = bool(doc.get("deleted"))
    return MessageItem(
        message_id=doc["message_id"],
        conversation_id=doc["conversation_id"],
        seq=doc["seq"],
        sender_account_id=doc["sender_account_id"],
        sender_device_id=doc["sender_device_id"],
        server_ts=doc["server_ts"],
        urgent=doc["urgent"],
        deleted=deleted,
        envelope=None if deleted else doc.get("envelope"),
    )
