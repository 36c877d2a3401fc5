"""Bodies of the gateway as the SDK reads them (tolerant of added fields, strict on bytes) and
the few an app builds to send (settings, availability).

Binary fields are decoded from canonical base64url at the edge, so the rest of the
SDK only ever sees raw ``bytes`` of the right size.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from haven_crypto.crypto import b64d


def _key_bytes(size: int) -> BeforeValidator:
    def decode(value: object) -> bytes:
        if not isinstance(value, str):
            raise ValueError("must be a base64url string")  # noqa: TRY004 - pydantic wants ValueError
        raw = b64d(value)
        if len(raw) != size:
            raise ValueError(f"must decode to {size} bytes")
        return raw

    return BeforeValidator(decode)


def _utc(value: datetime) -> datetime:
    """Naive times are read as UTC, so revocation checks never compare naive with aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


Key32 = Annotated[bytes, _key_bytes(32)]
Sig64 = Annotated[bytes, _key_bytes(64)]
Timestamp = Annotated[datetime, AfterValidator(_utc)]


class Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Account(Wire):
    account_id: str
    handle: str
    role: str
    display_name: str = ""


class Session(Wire):
    access_token: str
    refresh_token: str
    expires_in: int
    device_id: str
    account: Account


class Device(Wire):
    """An active device as listed for an account (``/v1/me``, ``/v1/accounts/{id}/devices``)."""

    device_id: str
    name: str = ""
    identity_key: Key32
    kx_key: Key32
    kx_signature: Sig64
    created_at: Timestamp | None = None
    last_seen_at: Timestamp | None = None


class PreviousKx(Wire):
    kx_key: Key32
    kx_signature: Sig64
    replaced_at: Timestamp | None = None


class DeviceDetail(Wire):
    """``GET /v1/devices/{id}``: kept forever, so old messages of revoked devices verify."""

    device_id: str
    account_id: str
    name: str = ""
    identity_key: Key32
    kx_key: Key32
    kx_signature: Sig64
    created_at: Timestamp | None = None
    revoked_at: Timestamp | None = None
    previous_kx_keys: list[PreviousKx] = Field(default_factory=list)


class BackupEntry(Wire):
    """The account's backup key, listed with its devices as ``kind: "backup"`` (docs/history.md):
    a recipient to wrap for once one of its ``signatures`` verifies (``backupkeys.py``)."""

    device_id: str
    kind: Literal["backup"] = "backup"
    kx_key: Key32
    signatures: dict[str, Sig64] = Field(default_factory=dict)


def _split_backups(data: Any) -> Any:
    """Listings mix devices and the backup entry; the SDK keeps them apart, so code that
    walks ``devices`` only ever sees devices (with identity keys)."""
    if not isinstance(data, dict) or not isinstance(data.get("devices"), list):
        return data
    is_backup = [isinstance(d, dict) and d.get("kind") == "backup" for d in data["devices"]]
    return {
        **data,
        "devices": [d for d, b in zip(data["devices"], is_backup, strict=True) if not b],
        "backups": [d for d, b in zip(data["devices"], is_backup, strict=True) if b],
    }


class Me(Account):
    devices: list[Device] = Field(default_factory=list)
    backups: list[BackupEntry] = Field(default_factory=list, exclude=True)

    _split = model_validator(mode="before")(_split_backups)


class AccountDevices(Wire):
    account_id: str
    devices: list[Device]
    backups: list[BackupEntry] = Field(default_factory=list, exclude=True)

    _split = model_validator(mode="before")(_split_backups)


class Participant(Wire):
    account_id: str
    handle: str
    display_name: str = ""
    role: str = ""


class Pause(Wire):
    reason: str | None = None
    resume_on: str | None = None


class ConversationSettings(Wire):
    """Your own settings in one conversation (the gateway applies your role's defaults)."""

    share_read_receipts: bool = False
    notification_detail: str = "generic"
    retention_days: int | None = None
    effective_retention_days: int | None = None


class Conversation(Wire):
    conversation_id: str
    status: str
    participants: list[Participant]
    last_seq: int = 0
    read_up_to: int = 0
    pause: Pause | None = None
    retention_days: int | None = None
    settings: ConversationSettings | None = None


class Agreement(Wire):
    version: str
    text: str
    published_at: Timestamp | None = None
    accepted: bool = False


class Invite(Wire):
    code: str
    kind: str
    expires_at: Timestamp | None = None


class MessageItem(Wire):
    """A history item or a WebSocket frame's ``message``; no ``envelope`` once deleted."""

    message_id: str
    conversation_id: str
    seq: int
    sender_account_id: str
    sender_device_id: str
    server_ts: Timestamp
    urgent: bool = False
    deleted: bool = False
    envelope: dict[str, Any] | None = None


class HistoryPage(Wire):
    messages: list[MessageItem]
    has_more: bool = False


class CrisisResource(Wire):
    name: str
    contact: str
    description: str = ""
    region: str = ""


class SendAccepted(Wire):
    message_id: str
    status: str = "accepted"
    crisis_resources: list[CrisisResource] = Field(default_factory=list)


# --- notifications and boundaries -------------------------------------------------------

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _listed(value: object) -> object:
    return [] if value is None else value


class Settable(BaseModel):
    """A body the app builds and sends: built by field name (``from_``), sent by alias."""

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class PushStatus(Wire):
    """``GET /v1/devices/{id}/push``: whether a push gateway is set, and its host (no secret)."""

    set: bool
    host: str | None = None


class QuietHours(Settable):
    """Wall-clock times in the account's time zone; ``end`` before ``start`` spans midnight."""

    start: str
    end: str


class NotificationSettings(Settable):
    """``/v1/me/notification-settings``; ``urgent_bypass`` is for coaches only."""

    time_zone: str = "UTC"
    quiet_hours: QuietHours | None = None
    urgent_bypass: bool = False
    urgent_while_paused: bool = False
    """Coaches: a client's urgent attempt during a pause reaches them as a content-free
    ``UrgentAttempt`` (off by default)."""


class WeeklyHours(Settable):
    """One opening in the coach's time zone: ``end`` "24:00" is midnight, earlier than
    ``start`` closes the next day."""

    day: Day
    start: str
    end: str


class AwayPeriod(Settable):
    """Away from ``from_`` until ``until``; ``backup_contact`` must be said: text, or None
    for "no backup"."""

    from_: Timestamp = Field(alias="from")
    until: Timestamp
    message: str = ""
    backup_contact: str | None

    def covers(self, moment: datetime) -> bool:
        return self.from_ <= moment < self.until


class Availability(Settable):
    """What a coach sets with ``PUT /v1/me/availability``."""

    time_zone: str
    weekly: list[WeeklyHours]
    response_time_hours: int
    away_message: str = ""
    away: AwayPeriod | None = None


class CoachAvailability(Settable):
    """``GET /v1/accounts/{id}/availability``: a coach's availability as set (every field
    None when never set: then always available), plus the server's ``available_now`` and
    ``next_available_at`` (now while available, None when not available for now)."""

    time_zone: str | None = None
    weekly: Annotated[list[WeeklyHours], BeforeValidator(_listed)] = Field(default_factory=list)
    response_time_hours: int | None = None
    away_message: str | None = None
    away: AwayPeriod | None = None
    available_now: bool = True
    next_available_at: Timestamp | None = None

    @property
    def is_set(self) -> bool:
        return self.response_time_hours is not None

    def away_at(self, moment: datetime) -> AwayPeriod | None:
        """The away period covering ``moment``, if any."""
        return self.away if self.away is not None and self.away.covers(moment) else None
