"""Versioned events on `haven.events`: one envelope shape, one decoder for every type.

An event is made with its type's `create(data)`: the id derives from the type and what makes
the fact unique (`id_key`), so a re-published event dedupes downstream, and the correlation
id is the current request's. Adding an event: its model here, and its consumers' handler map.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Generic, Literal, Self, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from shared.logging import current_correlation_id
from shared.wire import StoredEnvelope


class Schema(BaseModel):
    """Shared config: immutable, tolerant of fields added by newer producers."""

    model_config = ConfigDict(frozen=True, extra="ignore")


def utcnow() -> datetime:
    return datetime.now(UTC)


def derive_event_id(event_type: str, key: str) -> str:
    """Deterministic id, so a re-published event dedupes downstream."""
    return hashlib.blake2b(f"{event_type}\x00{key}".encode(), digest_size=16).hexdigest()


def occurrence() -> str:
    """For facts that are new every time (a key rotation): an id key that never repeats."""
    return uuid.uuid4().hex


D = TypeVar("D", bound=Schema)


class EventBase(Schema, Generic[D]):
    event_id: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)
    correlation_id: str | None = None
    data: D

    @classmethod
    def kind(cls) -> str:
        """The event's `type` (its routing key on `haven.events`)."""
        return str(cls.model_fields["type"].default)

    @classmethod
    def id_key(cls, data: D) -> str:
        """What makes this fact unique; the event id derives from it and the type."""
        raise NotImplementedError

    @classmethod
    def create(
        cls,
        data: D,
        *,
        key: str | None = None,
        occurred_at: datetime | None = None,
        correlation_id: str | None = None,
    ) -> Self:
        """The event for `data`; `key` overrides `id_key`, the correlation id defaults to the
        current request's."""
        return cls(
            event_id=derive_event_id(cls.kind(), cls.id_key(data) if key is None else key),
            occurred_at=occurred_at or utcnow(),
            correlation_id=correlation_id or current_correlation_id(),
            data=data,
        )


class ProbeData(Schema):
    probe_id: str
    requested_by: str = "operator"


class OpsProbed(EventBase[ProbeData]):
    """A synthetic event that proves the bus path from the gateway to every consumer."""

    type: Literal["ops.probed"] = "ops.probed"

    @classmethod
    def id_key(cls, data: ProbeData) -> str:
        return data.probe_id


class RelationshipData(Schema):
    conversation_id: str
    coach_account_id: str
    client_account_id: str
    # For pushes whose recipient chose `notification_detail: sender`; absent from older events.
    coach_display_name: str | None = None
    client_display_name: str | None = None


class RelationshipCreated(EventBase[RelationshipData]):
    type: Literal["relationship.created"] = "relationship.created"

    @classmethod
    def id_key(cls, data: RelationshipData) -> str:
        return data.conversation_id


class RelationshipEndedData(Schema):
    conversation_id: str
    ended_by: str


class RelationshipEnded(EventBase[RelationshipEndedData]):
    type: Literal["relationship.ended"] = "relationship.ended"

    @classmethod
    def id_key(cls, data: RelationshipEndedData) -> str:
        return data.conversation_id


class RelationshipStatusData(Schema):
    """A relationship moved between active and paused (the coach paused or resumed it)."""

    conversation_id: str
    coach_account_id: str
    client_account_id: str
    status: Literal["active", "paused"]
    reason: str | None = None
    resume_on: str | None = None  # an ISO date, or None
    changed_by: str


class RelationshipStatusChanged(EventBase[RelationshipStatusData]):
    """Every change of a relationship's state is on the bus (created and ended have their own
    events), so caches of relationship records can be invalidated by events alone; notification
    sends both sides a `relationship` frame."""

    type: Literal["relationship.status_changed"] = "relationship.status_changed"

    @classmethod
    def id_key(cls, data: RelationshipStatusData) -> str:
        return f"{data.conversation_id}:{occurrence()}"


class RetentionData(Schema):
    """A conversation's effective retention: the shorter of its participants' choices within
    the operator's bounds, computed by the gateway; None keeps messages until deleted."""

    conversation_id: str
    retention_days: int | None


class RetentionChanged(EventBase[RetentionData]):
    """Emitted when a relationship starts and whenever its effective retention changes.
    Messaging stamps `expires_at` from it (existing messages too); notification announces
    it to both sides with a `retention` frame. Consumers keep the newest by `occurred_at`."""

    type: Literal["retention.changed"] = "retention.changed"

    @classmethod
    def id_key(cls, data: RetentionData) -> str:
        return f"{data.conversation_id}:{occurrence()}"


class UrgentAttemptData(Schema):
    """Who tried, in which conversation: never the message (it was not accepted)."""

    conversation_id: str
    coach_account_id: str
    client_account_id: str


class UrgentAttempted(EventBase[UrgentAttemptData]):
    """A client tried to send an urgent message while their coach had paused the conversation,
    and the coach chose to be told (`urgent_while_paused`, off by default). Notification sends
    the coach's devices a content-free `urgent_attempt` frame."""

    type: Literal["urgent.attempted"] = "urgent.attempted"

    @classmethod
    def id_key(cls, data: UrgentAttemptData) -> str:
        return f"{data.conversation_id}:{occurrence()}"


class DeviceData(Schema):
    account_id: str
    device_id: str


class DeviceAdded(EventBase[DeviceData]):
    type: Literal["device.added"] = "device.added"

    @classmethod
    def id_key(cls, data: DeviceData) -> str:
        return data.device_id


class DeviceRemoved(EventBase[DeviceData]):
    type: Literal["device.removed"] = "device.removed"

    @classmethod
    def id_key(cls, data: DeviceData) -> str:
        return data.device_id


class DeviceUpdated(EventBase[DeviceData]):
    """A device's public keys changed: a kx rotation, or a login resuming it with new keys."""

    type: Literal["device.updated"] = "device.updated"

    @classmethod
    def id_key(cls, data: DeviceData) -> str:
        return f"{data.device_id}:{occurrence()}"


class DeviceSessionEnded(EventBase[DeviceData]):
    """A device's tokens stopped working (logout, refresh-token reuse); it is not revoked."""

    type: Literal["device.session_ended"] = "device.session_ended"

    @classmethod
    def id_key(cls, data: DeviceData) -> str:
        return f"{data.device_id}:{occurrence()}"


class BackupChangeData(Schema):
    """An account's backup key (a message recipient, API.md "History on a new device") was
    published, replaced or removed: `backup_id` is the current one (None: no backup now)."""

    account_id: str
    backup_id: str | None = None
    previous_backup_id: str | None = None
    reason: str = "published"  # published | removed | no_active_signer


class BackupChanged(EventBase[BackupChangeData]):
    """Every gateway replica forgets the account's recipients (a `device.*` event, so the
    invalidation queue hears it); notification announces `devices_changed` to the account's
    devices and its counterparts' devices, as for a device."""

    type: Literal["device.backup_changed"] = "device.backup_changed"

    @classmethod
    def id_key(cls, data: BackupChangeData) -> str:
        return f"{data.account_id}:{data.backup_id}:{data.previous_backup_id}:{occurrence()}"


class DeviceExpiringData(Schema):
    account_id: str
    device_id: str
    expires_at: datetime


class DeviceExpiring(EventBase[DeviceExpiringData]):
    """A device unseen for a while will be signed out at `expires_at` unless it is used: it gets
    a `device_expiring` frame and a content-free push (once per expiry period: the id derives
    from the device and the moment it was last seen)."""

    type: Literal["device.expiring"] = "device.expiring"

    @classmethod
    def id_key(cls, data: DeviceExpiringData) -> str:
        return f"{data.device_id}:{data.expires_at.isoformat()}"


class AccountData(Schema):
    account_id: str


class PasswordResetData(Schema):
    account_id: str
    reset_id: str


class PasswordReset(EventBase[PasswordResetData]):
    """An operator's reset code set a new password: every session of the account ended. Its
    devices get an `account` frame and a calm, content-free push; its counterparts' devices an
    `account` frame naming it."""

    type: Literal["account.password_reset"] = "account.password_reset"

    @classmethod
    def id_key(cls, data: PasswordResetData) -> str:
        return data.reset_id


class AccountDeleted(EventBase[AccountData]):
    type: Literal["account.deleted"] = "account.deleted"

    @classmethod
    def id_key(cls, data: AccountData) -> str:
        return data.account_id


class AgreementData(Schema):
    """The messaging agreement changed: for one account (it accepted or withdrew a version) or,
    with no `account_id`, for everyone (a new version was published)."""

    account_id: str | None = None
    version: str


class AgreementChanged(EventBase[AgreementData]):
    """So every gateway replica drops what it cached of consents (its stores/consents.py)."""

    type: Literal["agreement.changed"] = "agreement.changed"

    @classmethod
    def id_key(cls, data: AgreementData) -> str:
        return f"{data.account_id or '*'}:{data.version}:{occurrence()}"


class StoredMessageData(Schema):
    """A stored message as every recipient device sees it: ciphertext only."""

    conversation_id: str
    message_id: str
    seq: int
    sender_account_id: str
    sender_device_id: str
    server_ts: datetime
    urgent: bool
    envelope: StoredEnvelope
    recipient_device_ids: list[str]


class MessageStored(EventBase[StoredMessageData]):
    type: Literal["message.stored"] = "message.stored"

    @classmethod
    def id_key(cls, data: StoredMessageData) -> str:
        return f"{data.conversation_id}:{data.message_id}"


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


Event = Annotated[
    OpsProbed
    | RelationshipCreated
    | RelationshipEnded
    | RelationshipStatusChanged
    | RetentionChanged
    | UrgentAttempted
    | DeviceAdded
    | DeviceRemoved
    | DeviceUpdated
    | DeviceSessionEnded
    | BackupChanged
    | DeviceExpiring
    | AccountDeleted
    | PasswordReset
    | AgreementChanged
    | MessageStored
    | MessageDeleted
    | ReceiptRead
    | MessageRejected
    | DeliveryFailed,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_TYPES = frozenset(kind.kind() for kind in get_args(get_args(Event)[0]))


def decode_event(body: bytes) -> Event:
    """Parse any event; raises pydantic.ValidationError for unknown or malformed ones."""
    return EVENT_ADAPTER.validate_json(body)
