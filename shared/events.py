"""Versioned events on `haven.events`: one envelope shape, one decoder for every type.

An event is made with its type's `create(data)`: the id derives from the type and what makes
the fact unique (`id_key`), so a re-published event dedupes downstream, and the correlation
id is the current request's. Adding an event: its model here (or, for the message flow, in
shared/message_events.py), the union below, and its consumers' handler map.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, TypeAdapter

from shared.event_base import EventBase as EventBase
from shared.event_base import Schema as Schema
from shared.event_base import derive_event_id as derive_event_id
from shared.event_base import occurrence as occurrence
from shared.event_base import utcnow as utcnow
from shared.message_events import DeliveryFailed as DeliveryFailed
from shared.message_events import DeliveryFailedData as DeliveryFailedData
from shared.message_events import MessageDeleted as MessageDeleted
from shared.message_events import MessageDeletedData as MessageDeletedData
from shared.message_events import MessageRejected as MessageRejected
from shared.message_events import MessageStored as MessageStored
from shared.message_events import ReceiptData as ReceiptData
from shared.message_events import ReceiptRead as ReceiptRead
from shared.message_events import RejectedData as RejectedData
from shared.message_events import StoredMessageData as StoredMessageData


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


EVENTS_ADAPTER: TypeAdapter[list[Event]] = TypeAdapter(list[Event])


def decode_event(body: bytes) -> Event:
    """Parse any event; raises pydantic.ValidationError for unknown or malformed ones."""
    return EVENT_ADAPTER.validate_json(body)


def decode_events(body: bytes) -> list[Event]:
    """One AMQP message's events: one event, or a batch of them (a JSON array, `encode_events`);
    raises pydantic.ValidationError if any of them is unknown or malformed."""
    if body.lstrip()[:1] == b"[":
        return EVENTS_ADAPTER.validate_json(body)
    return [EVENT_ADAPTER.validate_json(body)]


def encode_events(events: Sequence[EventBase[Any]]) -> bytes:
    """One body for several events of one type (one routing key): a JSON array of them, which
    costs the broker and both ends one message instead of one each; a single event as itself."""
    if len(events) == 1:
        return events[0].model_dump_json().encode()
    return b"[" + b",".join(event.model_dump_json().encode() for event in events) + b"]"
