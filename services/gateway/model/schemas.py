"""HTTP request and response bodies of the identity API; also the source of the OpenAPI spec."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    WithJsonSchema,
    model_validator,
)

from haven_crypto import crypto
from haven_crypto.envelope import ALG
from shared.wire import WireEnvelope


def _b64_decoder(size: int) -> Callable[[object], bytes]:
    def decode(value: object) -> bytes:
        if not isinstance(value, str):
            raise ValueError("must be a base64url string")  # noqa: TRY004 - pydantic wants ValueError
        try:
            raw = crypto.b64d(value)
        except ValueError as error:
            raise ValueError("must be canonical base64url without padding") from error
        if len(raw) != size:
            raise ValueError(f"must decode to {size} bytes")
        return raw

    return decode


_B64_OUT = PlainSerializer(crypto.b64e, return_type=str)
Key32 = Annotated[
    bytes,
    BeforeValidator(_b64_decoder(32)),
    _B64_OUT,
    WithJsonSchema({"type": "string", "contentEncoding": "base64url", "description": "32 bytes"}),
]
Sig64 = Annotated[
    bytes,
    BeforeValidator(_b64_decoder(64)),
    _B64_OUT,
    WithJsonSchema({"type": "string", "contentEncoding": "base64url", "description": "64 bytes"}),
]
ServerId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Handle = Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[a-z0-9_.-]+$")]
Password = Annotated[str, Field(min_length=10, max_length=256)]
DisplayName = Annotated[str, Field(min_length=1, max_length=64)]
Role = Literal["client", "coach", "operator"]


class Request(BaseModel):
    """Request bodies refuse unknown fields, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Response(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- accounts and sessions ---------------------------------------------------------------


class RegisterRequest(Request):
    handle: Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
    password: Password
    invite_code: Annotated[str, Field(min_length=1, max_length=128)]
    display_name: DisplayName | None = None


class AccountOut(Response):
    account_id: str
    handle: str
    role: Role
    display_name: str


class DeviceBlock(Request):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    identity_key: Key32
    kx_key: Key32
    kx_signature: Sig64
    # Unix seconds. Bounded so arithmetic on it never overflows (a 500); anything in range but
    # far from the server clock is still the 422 `clock_skew` of the device check.
    ts: Annotated[int, Field(strict=True, ge=0, le=10**10)]
    proof: Sig64


class LoginRequest(Request):
    handle: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]
    device: DeviceBlock
    replace_device_id: ServerId | None = None


class SessionOut(Response):
    access_token: str
    refresh_token: str
    expires_in: int
    device_id: str
    account: AccountOut


class RefreshRequest(Request):
    refresh_token: Annotated[str, Field(min_length=1, max_length=128)]


class PasswordChange(Request):
    current_password: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: Password
    revoke_other_devices: StrictBool = False


# --- devices --------------------------------------------------------------------------------


class PeerDeviceOut(Response):
    """A device as a counterpart sees it: public keys only, never a name or when it was last
    seen (a key list must never become a presence signal)."""

    device_id: str
    kind: Literal["device"] = "device"
    identity_key: Annotated[bytes, _B64_OUT]
    kx_key: Annotated[bytes, _B64_OUT]
    kx_signature: Annotated[bytes, _B64_OUT]
    created_at: datetime


class BackupEntryOut(Response):
    """An account's backup key in its device listing: a recipient senders wrap for like a
    device (API.md "History on a new device"); `device_id` is the backup id."""

    device_id: str
    kind: Literal["backup"] = "backup"
    kx_key: Annotated[bytes, _B64_OUT]
    signatures: dict[str, Annotated[bytes, _B64_OUT]]


class DeviceOut(PeerDeviceOut):
    """One of the caller's own devices."""

    name: str
    last_seen_at: datetime | None = None


class PreviousKx(Response):
    """A kx key the device rotated away from; messages sealed before `replaced_at` used it."""

    kx_key: Annotated[bytes, _B64_OUT]
    kx_signature: Annotated[bytes, _B64_OUT]
    replaced_at: datetime


class DeviceDetail(Response):
    """Public keys kept forever for participants (no name: see OwnDeviceDetail)."""

    device_id: str
    account_id: str
    identity_key: Annotated[bytes, _B64_OUT]
    kx_key: Annotated[bytes, _B64_OUT]
    kx_signature: Annotated[bytes, _B64_OUT]
    created_at: datetime
    revoked_at: datetime | None
    previous_kx_keys: list[PreviousKx] = Field(default_factory=list)


class OwnDeviceDetail(DeviceDetail):
    """The owner's view of one of their devices also names it."""

    name: str


class MeOut(AccountOut):
    devices: list[DeviceOut | BackupEntryOut]


class AccountDevices(Response):
    account_id: str
    devices: list[DeviceOut | BackupEntryOut] | list[PeerDeviceOut | BackupEntryOut]


# --- history on a new device -------------------------------------------------------------------

MAX_BACKUP_SIGNATURES = 10  # an account has at most 10 active devices


class BackupPut(Request):
    """Signatures by the account's active devices over `b"haven-backup-v1\x00" + handle +
    b"\x00" + kx_key`; the calling device's is required."""

    kx_key: Key32
    signatures: Annotated[
        dict[ServerId, Sig64], Field(min_length=1, max_length=MAX_BACKUP_SIGNATURES)
    ]


class BackupOut(Response):
    backup_id: str
    kx_key: Annotated[bytes, _B64_OUT]
    signatures: dict[str, Annotated[bytes, _B64_OUT]]
    created_at: datetime
    # Earlier backup ids of this account that published the same key: wraps for them open
    # with the same recovery key (a re-publish with more signatures gets a new id).
    earlier_backup_ids: list[str] = Field(default_factory=list)


LINK_CIPHERTEXT_MIN = 24 + 16 + 1  # nonce, MAC, at least one byte
LINK_CIPHERTEXT_MAX = 4096


def _b64_bounded(low: int, high: int) -> Callable[[object], bytes]:
    def decode(value: object) -> bytes:
        if not isinstance(value, str):
            raise ValueError("must be a base64url string")  # noqa: TRY004 - pydantic wants ValueError
        if len(value) > (high * 4 + 2) // 3:
            raise ValueError(f"must decode to at most {high} bytes")
        try:
            raw = crypto.b64d(value)
        except ValueError as error:
            raise ValueError("must be canonical base64url without padding") from error
        if not low <= len(raw) <= high:
            raise ValueError(f"must decode to {low} to {high} bytes")
        return raw

    return decode


LinkCiphertext = Annotated[
    bytes,
    BeforeValidator(_b64_bounded(LINK_CIPHERTEXT_MIN, LINK_CIPHERTEXT_MAX)),
    _B64_OUT,
    WithJsonSchema(
        {
            "type": "string",
            "contentEncoding": "base64url",
            "description": f"{LINK_CIPHERTEXT_MIN} to {LINK_CIPHERTEXT_MAX} bytes",
        }
    ),
]


class LinkPost(Request):
    ciphertext: LinkCiphertext
    sender_device_id: ServerId


class LinkOut(Response):
    link_id: str
    sender_device_id: str
    ciphertext: Annotated[bytes, _B64_OUT]
    created_at: datetime
    expires_at: datetime


class LinkSent(Response):
    link_id: str
    expires_at: datetime


class LinkList(Response):
    links: list[LinkOut]


class ResetCodeOut(Response):
    code: str
    expires_at: datetime


class PasswordResetRequest(Request):
    handle: Annotated[str, Field(min_length=1, max_length=64)]
    code: Annotated[str, Field(min_length=1, max_length=128)]
    new_password: Password


class KxRotation(Request):
    kx_key: Key32
    kx_signature: Sig64


# --- invites and conversations ----------------------------------------------------------------


class InviteRequest(Request):
    kind: Literal["coach", "client"]


class InviteOut(Response):
    code: str
    kind: Literal["coach", "client"]
    expires_at: datetime


class AcceptInvite(Request):
    code: Annotated[str, Field(min_length=1, max_length=128)]


class ConversationRef(Response):
    conversation_id: str


class Participant(Response):
    account_id: str
    handle: str
    display_name: str
    role: Role


RelationshipStatus = Literal["active", "paused", "ended"]
NotificationDetail = Literal["none", "generic", "sender"]
RetentionDays = Annotated[int, Field(strict=True, ge=1, le=36500)]


class PauseOut(Response):
    reason: str | None
    resume_on: str | None


class OwnSettings(Response):
    """The caller's own settings for one conversation, defaults applied."""

    share_read_receipts: bool
    notification_detail: NotificationDetail
    retention_days: int | None


class ConversationOut(Response):
    conversation_id: str
    status: RelationshipStatus
    participants: list[Participant]
    last_seq: int
    read_up_to: int
    pause: PauseOut | None = None
    retention_days: int | None = None
    settings: OwnSettings


class ConversationList(Response):
    conversations: list[ConversationOut]


class ConversationStatus(Response):
    conversation_id: str
    status: RelationshipStatus


class PauseRequest(Request):
    """Shown to the client as written; the SDK offers neutral templates."""

    reason: Annotated[str, Field(max_length=280)] | None = None
    resume_on: date | None = None


class SettingsPut(Request):
    """Only the fields given change; `retention_days: null` means no shorter wish."""

    share_read_receipts: StrictBool | None = None
    notification_detail: NotificationDetail | None = None
    retention_days: RetentionDays | None = None

    @model_validator(mode="after")
    def _no_null_switches(self) -> Self:
        for name in ("share_read_receipts", "notification_detail"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} takes a value, not null")
        return self


class SettingsOut(OwnSettings):
    """The caller's settings in effect, and the conversation's effective retention."""

    conversation_id: str
    effective_retention_days: int | None


# --- messaging agreement ------------------------------------------------------------------------


class AgreementPut(Request):
    version: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    text: Annotated[str, Field(min_length=1, max_length=100_000)]


class AgreementOut(Response):
    version: str
    text: str
    published_at: datetime
    accepted: bool


class AgreementAccept(Request):
    version: Annotated[str, Field(min_length=1, max_length=64)]


# --- audit -----------------------------------------------------------------------------------


class AuditEntry(Response):
    event_id: str
    type: str
    at: datetime
    account_id: str | None = None
    device_id: str | None = None
    address: str | None = None
    details: dict[str, str | int | bool | None] = Field(default_factory=dict)


class AuditPage(Response):
    entries: list[AuditEntry]
    next_before: str | None


# --- messages --------------------------------------------------------------------------------

# The wire envelope's own schema (shared/wire.py), which the gateway checks in full.
ENVELOPE_SCHEMA = WireEnvelope.model_json_schema()
ENVELOPE_SCHEMA["description"] = (
    "haven-v1 envelope (API.md, 'Envelope haven-v1 - byte-exact'); binary fields are canonical "
    "base64url. `commitment` is carried so the gateway can verify the signature."
)
ENVELOPE_SCHEMA["properties"]["alg"]["const"] = ALG
EnvelopeJson = Annotated[dict[str, object], WithJsonSchema(ENVELOPE_SCHEMA)]


class SendRequest(Request):
    envelope: EnvelopeJson
    # Uploads this message refers to (API.md "Attachments"); checked by usecases/attachments.py.
    attachment_ids: Annotated[list[str], Field(max_length=10)] | None = None


class AttachmentStored(Response):
    attachment_id: str
    size: int


class Accepted(Response):
    message_id: str
    status: Literal["accepted"] = "accepted"
    crisis_resources: list[dict[str, str]] | None = None


class ReadMarker(Request):
    up_to_seq: Annotated[int, Field(ge=0, strict=True)]


class CrisisResource(Request):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    contact: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=1000)] = ""
    region: Annotated[str, Field(max_length=100)] = ""


class CrisisResources(Request):
    """At least one: a deployment must always be able to point a person in crisis somewhere."""

    resources: Annotated[list[CrisisResource], Field(min_length=1, max_length=50)]
