"""WebSocket frames (API.md, "WebSocket: `GET /v1/ws`"): what the server sends and what a
client may send, each one discriminated union on `type`.

notification builds server frames from events and publishes them in a `DeviceDelivery`; the
gateway's router parses them back and its sockets write `frame.text()`. A frame renders
exactly the keys API.md lists: a key marked optional is left out unless it was given (so an
`error` frame answering a send carries `message_id`, null or not, and one that answers a bad
frame has none).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    model_serializer,
)

from shared.wire import MessageItem, UtcDatetime

RelationshipStatus = Literal["active", "paused", "ended"]
CrisisResources = list[dict[str, Any]]


class Frame(BaseModel):
    """Immutable; renders API.md's keys, leaving out the optional ones nobody set."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    optional: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _given_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in self.optional - self.model_fields_set:
            data.pop(name, None)
        return data

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def text(self) -> str:
        """What the socket writes (json.dumps' separators, as ever)."""
        return json.dumps(self.wire())


# --- server → client ------------------------------------------------------------------------


class Ready(Frame):
    type: Literal["ready"] = "ready"


class Pong(Frame):
    type: Literal["pong"] = "pong"


class Resync(Frame):
    """The server lost track of deliveries: sync every conversation with `after_seq`."""

    type: Literal["resync"] = "resync"


class MessageFrame(Frame):
    """The same item as in history; the device answers `ack` once it stored it."""

    type: Literal["message"] = "message"
    message: MessageItem


class MessageDeleted(Frame):
    type: Literal["message_deleted"] = "message_deleted"
    conversation_id: str
    message_id: str
    seq: int


class Read(Frame):
    type: Literal["read"] = "read"
    conversation_id: str
    account_id: str
    up_to_seq: int


class DevicesChanged(Frame):
    type: Literal["devices_changed"] = "devices_changed"
    account_id: str


class LinkFrame(Frame):
    """To a new device: another device of its account sent it a secret, boxed to its kx key
    (API.md "Linking"); the device stores it and acknowledges it with DELETE /v1/me/links/{id}."""

    type: Literal["link"] = "link"
    link_id: str
    sender_device_id: str
    ciphertext: str  # canonical base64url, as it was posted
    created_at: UtcDatetime


class AccountNotice(Frame):
    """Something happened to an account that its devices (`account_id`: whose) and its
    counterparts' devices are told of calmly; `password_reset` is the one event so far."""

    type: Literal["account"] = "account"
    event: Literal["password_reset"]
    account_id: str


class DeviceExpiringFrame(Frame):
    """This device will be signed out at `expires_at` unless it is used before."""

    type: Literal["device_expiring"] = "device_expiring"
    device_id: str
    expires_at: UtcDatetime


class RelationshipChanged(Frame):
    type: Literal["relationship"] = "relationship"
    conversation_id: str
    status: RelationshipStatus
    reason: str | None = None
    resume_on: str | None = None


class UrgentAttempt(Frame):
    """To the coach: a client tried an urgent send while the relationship is paused (no
    content, no message id)."""

    type: Literal["urgent_attempt"] = "urgent_attempt"
    conversation_id: str


class RetentionChanged(Frame):
    type: Literal["retention"] = "retention"
    conversation_id: str
    retention_days: int | None


class CoachAway(Frame):
    """To a client whose message reached the coach outside hours or while away."""

    optional: ClassVar[frozenset[str]] = frozenset({"backup_contact", "crisis_resources"})
    type: Literal["coach_away"] = "coach_away"
    conversation_id: str
    away_message: str
    response_time_hours: int
    next_available_at: UtcDatetime | None
    backup_contact: str | None = None
    # Added by the gateway that writes it to the socket (its crisis store is the gateway's).
    crisis_resources: CrisisResources | None = None


class MessageRejected(Frame):
    """An accepted message that could not be stored (e.g. a conflicting `message_id`)."""

    type: Literal["message_rejected"] = "message_rejected"
    conversation_id: str
    message_id: str
    code: str
    detail: str


class Accepted(Frame):
    """A `send` the gateway accepted; an urgent one carries the crisis resources."""

    optional: ClassVar[frozenset[str]] = frozenset({"crisis_resources"})
    type: Literal["accepted"] = "accepted"
    message_id: str
    crisis_resources: CrisisResources | None = None


class ErrorFrame(Frame):
    """A refused `send` (with its `message_id` and the HTTP answer's extra fields, such as
    `missing_devices`), or a frame the socket could not take (`code` and `detail` only)."""

    model_config = ConfigDict(frozen=True, extra="allow")
    optional: ClassVar[frozenset[str]] = frozenset(
        {"message_id", "retry_after", "crisis_resources"}
    )
    type: Literal["error"] = "error"
    message_id: str | None = None
    code: str
    detail: str
    retry_after: int | None = None
    crisis_resources: CrisisResources | None = None


ServerFrame = Annotated[
    Ready
    | Pong
    | Resync
    | MessageFrame
    | MessageDeleted
    | Read
    | DevicesChanged
    | LinkFrame
    | AccountNotice
    | DeviceExpiringFrame
    | RelationshipChanged
    | UrgentAttempt
    | RetentionChanged
    | CoachAway
    | MessageRejected
    | Accepted
    | ErrorFrame,
    Field(discriminator="type"),
]
SERVER_FRAMES: TypeAdapter[ServerFrame] = TypeAdapter(ServerFrame)


# --- client → server ------------------------------------------------------------------------


def _str_or(default: str | None) -> BeforeValidator:
    """A value of the wrong JSON type counts as absent: the frame is still answered (a send to
    no conversation is `not_found`, an `auth` without a token closes with 4401)."""
    return BeforeValidator(lambda value: value if isinstance(value, str) else default)


class Auth(Frame):
    """The first frame of a browser, and every fresh access token after it."""

    type: Literal["auth"] = "auth"
    access_token: Annotated[str | None, _str_or(None)] = None


class Ack(Frame):
    """The device stored this message."""

    type: Literal["ack"] = "ack"
    message_id: str


class Ping(Frame):
    type: Literal["ping"] = "ping"


class Send(Frame):
    """The envelope is checked by the gateway's `Sending`, which names what is wrong."""

    type: Literal["send"] = "send"
    conversation_id: Annotated[str, _str_or("")] = ""
    envelope: Any = None
    attachment_ids: Any = None  # checked by `Sending` too (API.md, "Attachments")

    @property
    def message_id(self) -> str | None:
        """The envelope's id if it has one: a refusal names it, so the client can match it."""
        envelope = self.envelope
        found = envelope.get("message_id") if isinstance(envelope, dict) else None
        return found if isinstance(found, str) or found is None else None


ClientFrame = Annotated[Auth | Ack | Ping | Send, Field(discriminator="type")]
CLIENT_FRAMES: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
