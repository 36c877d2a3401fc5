"""What the app sees from ``client.events()``: one frozen dataclass per kind of happening.

Failures are events too (``InvalidMessage``, ``KeyChanged``): a message that does not
verify is shown to the user as such, never dropped without a trace.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Literal

from haven_client import copy
from haven_client.historyevents import AccountNotice, DeviceExpiring, LinkOffered

MessageTrust = Literal["verified", "unverified", "key_changed", "unlisted"]
"""How far the user can rely on who sent a message (the rule is in ``haven_client.opener``):

- ``verified``: its device was in the account's listing and the user verified the
  conversation's safety number, still current;
- ``unverified``: its device was in the listing; the safety number was never verified
  (or a change was acknowledged since) — trust on first use, changes announced;
- ``key_changed``: a counterpart's keys changed and the user has not acknowledged it;
- ``unlisted``: an unverified contact's device that was revoked before this device ever
  saw it listed: a safety number never covered it, so show it as unconfirmed."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReceivedMessage:
    """A message that passed every receiver check of API.md and decrypted; apps show
    ``trust`` next to it (anything but ``verified``/``unverified`` deserves a warning)."""

    conversation_id: str
    message_id: str
    seq: int
    sender_account_id: str
    sender_device_id: str
    server_ts: datetime
    urgent: bool
    payload: dict[str, Any]
    outgoing: bool
    trust: MessageTrust

    @property
    def body(self) -> str | None:
        """The text of a ``{"type": "text"}`` payload; None for other payload types."""
        body = self.payload.get("body")
        return body if self.payload.get("type") == "text" and isinstance(body, str) else None

    @property
    def sent_at(self) -> Any:
        """The sender's own claim of when it was written (not verified by the server)."""
        return self.payload.get("sent_at")


@dataclasses.dataclass(frozen=True, kw_only=True)
class InvalidMessage:
    """A message that failed a check: show it as broken, never as content. ``reason`` says why."""

    conversation_id: str
    message_id: str
    seq: int | None
    sender_account_id: str | None
    sender_device_id: str | None
    reason: str
    field: str | None = None
    predates_device: bool = False
    """True when the message is older than this device, which therefore holds no key for it:
    expected on a new device (show ``notice``), not an attack."""

    @property
    def notice(self) -> str:
        """The calm line to show in place of the message (from ``haven_client.copy``)."""
        return copy.PREDATES_DEVICE if self.predates_device else copy.MESSAGE_UNREADABLE


@dataclasses.dataclass(frozen=True, kw_only=True)
class MessageDeleted:
    """Deleted for everyone: a tombstone in history or a ``message_deleted`` frame."""

    conversation_id: str
    message_id: str
    seq: int | None
    sender_account_id: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReadReceipt:
    conversation_id: str
    account_id: str
    up_to_seq: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class DevicesChanged:
    account_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class RelationshipChanged:
    """``active``, ``paused`` (with the coach's ``reason`` and ``resume_on``, an ISO date) or
    ``ended`` (final for this conversation; a new invite opens a new one)."""

    conversation_id: str
    status: str
    reason: str | None = None
    resume_on: str | None = None

    @property
    def notice(self) -> str | None:
        """A calm line for a paused or ended conversation (None while active)."""
        return {"paused": copy.PAUSED, "ended": copy.ENDED}.get(self.status)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RetentionChanged:
    """The conversation's messages now disappear after ``retention_days`` (None: kept)."""

    conversation_id: str
    retention_days: int | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CoachAway:
    """The client's message reached the coach outside their hours or while away (at most once
    per conversation per such stretch). Show ``reply_expectation`` calmly near the composer:
    the same line ``client.reply_expectation(conversation_id)`` gives, e.g. "Kim usually
    replies within 24 hours; next available Monday 09:00." ``away_message`` is the coach's
    own note and ``backup_contact`` who to reach while they are away (None: none given)."""

    conversation_id: str
    coach_account_id: str
    away_message: str | None
    response_time_hours: int | None
    next_available_at: datetime | None
    """None: not available for now (no opening scheduled)."""
    backup_contact: str | None = None
    reply_expectation: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class MessageRejected:
    """An accepted message the server could not store; the app should offer to resend."""

    conversation_id: str
    message_id: str
    code: str
    detail: str


KeyChangeReason = Literal["identity_key_changed", "safety_number_changed"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class KeyChanged:
    """A counterpart's keys changed. With ``requires_acknowledgement`` sending is held back
    until ``client.acknowledge_key_change(account_id)``: either a device id now shows a
    different identity key (a substitution only a misbehaving server could make), or
    the safety number the user had verified no longer matches."""

    account_id: str
    reason: KeyChangeReason
    device_id: str | None
    previous_safety_number: str | None
    safety_number: str | None
    requires_acknowledgement: bool

    @property
    def notice(self) -> str:
        return copy.KEY_CHANGE_NOTICE


@dataclasses.dataclass(frozen=True, kw_only=True)
class UrgentAttempt:
    """Coaches who chose it (``urgent_while_paused``): the client tried to send an urgent
    message while the conversation is paused. Nothing of the message is here; show ``notice``."""

    conversation_id: str

    @property
    def notice(self) -> str:
        return copy.URGENT_ATTEMPT


@dataclasses.dataclass(frozen=True, kw_only=True)
class SendingShortly:
    """A message the server asked to slow down for (429) waits in the outbox and goes out by
    itself after ``retry_after`` seconds: show ``notice``, never "not sent"."""

    conversation_id: str
    message_id: str
    retry_after: float

    @property
    def notice(self) -> str:
        return copy.SENDING_SHORTLY


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConnectionChanged:
    """Socket state, for a status line: ``ready``, ``disconnected`` (will retry) or ``closed``."""

    state: Literal["ready", "disconnected", "closed"]
    code: int | None = None
    reason: str = ""


Event = (
    ReceivedMessage
    | InvalidMessage
    | MessageDeleted
    | ReadReceipt
    | DevicesChanged
    | RelationshipChanged
    | RetentionChanged
    | CoachAway
    | MessageRejected
    | KeyChanged
    | SendingShortly
    | UrgentAttempt
    | ConnectionChanged
    | AccountNotice
    | DeviceExpiring
    | LinkOffered
)
