"""Events of the message flow: stored, deleted, read, rejected, not acknowledged (shared/events.py
puts them in the one union every consumer decodes)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import model_validator

from shared.event_base import EventBase, Schema
from shared.wire import StoredEnvelope


class StoredMessageData(Schema):
    """A stored message: its metadata, and either its envelope (ciphertext only) for whoever
    delivers it, or — when messaging delivered it to the devices' sockets itself — which of the
    recipient devices no gateway held (`unroutable_device_ids`: offline, a push is owed)."""

    conversation_id: str
    message_id: str
    seq: int
    sender_account_id: str
    sender_device_id: str
    server_ts: datetime
    urgent: bool
    envelope: StoredEnvelope | None = None
    recipient_device_ids: list[str]
    unroutable_device_ids: list[str] | None = None

    @model_validator(mode="after")
    def _delivered_or_deliverable(self) -> Self:
        if self.envelope is None and self.unroutable_device_ids is None:
            raise ValueError("an undelivered stored message carries its envelope")
        return self

    @property
    def delivered(self) -> bool:
        """Whether messaging already sent it to the sockets (then only the offline are owed)."""
        return self.unroutable_device_ids is not None


class MessageStored(EventBase[StoredMessageData]):
    type: Literal["message.stored"] = "message.stored"

    @classmethod
    def id_key(cls, data: StoredMessageData) -> str:
        return cls.id_key_of(data.conversation_id, data.message_id)

    @staticmethod
    def id_key_of(conversation_id: str, message_id: str) -> str:
        return f"{conversation_id}:{message_id}"


class MessageDeletedData(Schema):
    conversation_id: str
    message_id: str
    seq: int
    deleted_by: str
    recipient_device_ids: list[str]


class MessageDeleted(EventBase[MessageDeletedData]):
    type: Literal["message.deleted"] = "message.deleted"

    @classmethod
    def id_key(cls, data: MessageDeletedData) -> str:
        return f"{data.conversation_id}:{data.message_id}"


class ReceiptData(Schema):
    conversation_id: str
    account_id: str
    up_to_seq: int
    # Whether the reader shares read receipts with the counterpart (their conversation
    # setting, decided by the gateway); absent (older producers): not shared.
    share: bool = False


class ReceiptRead(EventBase[ReceiptData]):
    type: Literal["receipt.read"] = "receipt.read"

    @classmethod
    def id_key(cls, data: ReceiptData) -> str:
        return f"{data.conversation_id}:{data.account_id}:{data.up_to_seq}"


class RejectedData(Schema):
    conversation_id: str
    message_id: str
    sender_account_id: str
    sender_device_id: str
    code: str
    detail: str


class MessageRejected(EventBase[RejectedData]):
    """An accepted message that could not be stored; announced to its sender."""

    type: Literal["message.rejected"] = "message.rejected"

    @classmethod
    def id_key(cls, data: RejectedData) -> str:
        return f"{data.conversation_id}:{data.message_id}:{data.code}"

    @classmethod
    def of_envelope(
        cls, data: RejectedData, signature: str | None, *, correlation_id: str | None = None
    ) -> Self:
        """Another envelope under the same message id is another rejection: its own id."""
        key = f"{cls.id_key(data)}:{signature}"
        return cls.create(data, key=key, correlation_id=correlation_id)


class DeliveryFailedData(Schema):
    device_id: str
    conversation_id: str
    message_id: str
    # From the frame the gateway sent, for the push it makes owed; None from a gateway that
    # predates them (the push then counts the message as not urgent).
    urgent: bool | None = None
    seq: int | None = None


class DeliveryFailed(EventBase[DeliveryFailedData]):
    """A gateway routed a message frame to a device's socket but got no ack in time."""

    type: Literal["delivery.failed"] = "delivery.failed"

    @classmethod
    def id_key(cls, data: DeliveryFailedData) -> str:
        return f"{data.device_id}:{data.message_id}"
