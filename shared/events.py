"""Versioned events on `haven.events`: one envelope shape, one decoder for every type."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class Schema(BaseModel):
    """Shared config: immutable, tolerant of fields added by newer producers."""

    model_config = ConfigDict(frozen=True, extra="ignore")


def utcnow() -> datetime:
    return datetime.now(UTC)


def derive_event_id(event_type: str, key: str) -> str:
    """Deterministic id, so a re-published event dedupes downstream."""
    return hashlib.blake2b(f"{event_type}\x00{key}".encode(), digest_size=16).hexdigest()


class EventBase(Schema):
    event_id: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)
    correlation_id: str | None = None


class ProbeData(Schema):
    probe_id: str
    requested_by: str = "operator"


class OpsProbed(EventBase):
    """A synthetic event that proves the bus path from the gateway to every consumer."""

    type: Literal["ops.probed"] = "ops.probed"
    data: ProbeData


class RelationshipData(Schema):
    conversation_id: str
    coach_account_id: str
    client_account_id: str


class RelationshipCreated(EventBase):
    type: Literal["relationship.created"] = "relationship.created"
    data: RelationshipData


class RelationshipEndedData(Schema):
    conversation_id: str
    ended_by: str


class RelationshipEnded(EventBase):
    type: Literal["relationship.ended"] = "relationship.ended"
    data: RelationshipEndedData


class DeviceData(Schema):
    account_id: str
    device_id: str


class DeviceAdded(EventBase):
    type: Literal["device.added"] = "device.added"
    data: DeviceData


class DeviceRemoved(EventBase):
    type: Literal["device.removed"] = "device.removed"
    data: DeviceData


class DeviceUpdated(EventBase):
    """A device's public keys changed: a kx rotation, or a login resuming it with new keys."""

    type: Literal["device.updated"] = "device.updated"
    data: DeviceData


class DeviceSessionEnded(EventBase):
    """A device's tokens stopped working (logout, refresh-token reuse); it is not revoked."""

    type: Literal["device.session_ended"] = "device.session_ended"
    data: DeviceData


class AccountData(Schema):
    account_id: str


class AccountDeleted(EventBase):
    type: Literal["account.deleted"] = "account.deleted"
    data: AccountData


class StoredMessageData(Schema):
    """A stored message as every recipient device sees it: ciphertext only."""

    conversation_id: str
    message_id: str
    seq: int
    sender_account_id: str
    sender_device_id: str
    server_ts: datetime
    urgent: bool
    envelope: dict[str, object]
    recipient_device_ids: list[str]


class MessageStored(EventBase):
    type: Literal["message.stored"] = "message.stored"
    data: StoredMessageData


class MessageDeletedData(Schema):
    conversation_id: str
    message_id: str
    seq: int
    deleted_by: str
    recipient_device_ids: list[str]


class MessageDeleted(EventBase):
    type: Literal["message.deleted"] = "message.deleted"
    data: MessageDeletedData


class ReceiptData(Schema):
    conversation_id: str
    account_id: str
    up_to_seq: int


class ReceiptRead(EventBase):
    type: Literal["receipt.read"] = "receipt.read"
    data: ReceiptData


class RejectedData(Schema):
    conversation_id: str
    message_id: str
    sender_account_id: str
    sender_device_id: str
    code: str
    detail: str


class MessageRejected(EventBase):
    """An accepted message that could not be stored; announced to its sender."""

    type: Literal["message.rejected"] = "message.rejected"
    data: RejectedData


class DeliveryFailedData(Schema):
    device_id: str
    conversation_id: str
    message_id: str


class DeliveryFailed(EventBase):
    """A gateway routed a message frame to a device's socket but got no ack in time."""

    type: Literal["delivery.failed"] = "delivery.failed"
    data: DeliveryFailedData


Event = Annotated[
    OpsProbed
    | RelationshipCreated
    | RelationshipEnded
    | DeviceAdded
    | DeviceRemoved
    | DeviceUpdated
    | DeviceSessionEnded
    | AccountDeleted
    | MessageStored
    | MessageDeleted
    | ReceiptRead
    | MessageRejected
    | DeliveryFailed,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def decode_event(body: bytes) -> Event:
    """Parse any event; raises pydantic.ValidationError for unknown or malformed ones."""
    return EVENT_ADAPTER.validate_json(body)
