"""What the gateway's repositories return: typed records, never raw documents.

Each record knows how to read itself from its stored document (`from_doc`) and, where the
gateway creates it, how to write itself (`to_doc`); only the repositories call either.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from shared.mongo import Document

Role = Literal["client", "coach", "operator"]


def new_id() -> str:
    """Opaque server ids: 96 random bits in [A-Za-z0-9_-]."""
    return secrets.token_urlsafe(12)


@dataclass(frozen=True)
class Account:
    account_id: str
    handle: str
    role: Role
    display_name: str
    password_hash: bytes
    status: str
    created_at: datetime

    @property
    def active(self) -> bool:
        return self.status == "active"

    @classmethod
    def from_doc(cls, doc: Document) -> Account:
        return cls(
            account_id=doc["_id"],
            handle=doc["handle"],
            role=doc["role"],
            display_name=doc.get("display_name") or doc["handle"],
            password_hash=bytes(doc["password_hash"]),
            status=doc.get("status", "active"),
            created_at=doc["created_at"],
        )

    def to_doc(self) -> Document:
        return {
            "_id": self.account_id,
            "handle": self.handle,
            "role": self.role,
            "display_name": self.display_name,
            "password_hash": self.password_hash,
            "status": self.status,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class PreviousKxKey:
    kx_key: bytes
    kx_signature: bytes
    replaced_at: datetime


@dataclass(frozen=True)
class Device:
    device_id: str
    account_id: str
    name: str
    identity_key: bytes
    kx_key: bytes
    kx_signature: bytes
    created_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None = None
    session: int = 1
    previous_kx_keys: tuple[PreviousKxKey, ...] = ()
    removal_announced: bool = False
    erased: bool = False  # its account was deleted: only the id and identity key are left
    # The expiry warning sent for the period that began at `expiry_warned_for` (a last-seen
    # time): the device is signed out at `expiry_due_at` unless it is used before.
    expiry_warned_for: datetime | None = None
    expiry_due_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_of(self, moment: datetime) -> Device:
        """The device as it stood at `moment` (what an ended relationship's ex-counterpart may
        see): the key-agreement key current then, only the history before it, and no
        revocation after it. The history is bounded: past it, the oldest kept key stands in."""
        # The first key replaced after `moment` was the current one then.
        then = next((p for p in self.previous_kx_keys if p.replaced_at > moment), None)
        revoked = self.revoked_at if self.revoked_at and self.revoked_at <= moment else None
        return replace(
            self,
            kx_key=then.kx_key if then else self.kx_key,
            kx_signature=then.kx_signature if then else self.kx_signature,
            previous_kx_keys=tuple(p for p in self.previous_kx_keys if p.replaced_at <= moment),
            revoked_at=revoked,
            last_seen_at=min(self.last_seen_at, moment),
        )

    @classmethod
    def from_doc(cls, doc: Document) -> Device:
        return cls(
            device_id=doc["_id"],
            account_id=doc["account_id"],
            name=doc["name"],
            identity_key=bytes(doc["identity_key"]),
            kx_key=bytes(doc["kx_key"]),
            kx_signature=bytes(doc["kx_signature"]),
            created_at=doc["created_at"],
            last_seen_at=doc["last_seen_at"],
            revoked_at=doc.get("revoked_at"),
            session=int(doc.get("session", 1)),
            previous_kx_keys=tuple(
                PreviousKxKey(bytes(p["kx_key"]), bytes(p["kx_signature"]), p["replaced_at"])
                for p in doc.get("previous_kx_keys") or ()
            ),
            removal_announced=bool(doc.get("removal_announced")),
            erased=doc.get("erased_at") is not None,
            expiry_warned_for=(doc.get("expiry_warning") or {}).get("for"),
            expiry_due_at=(doc.get("expiry_warning") or {}).get("expires_at"),
        )

    def to_doc(self) -> Document:
        return {
            "_id": self.device_id,
            "account_id": self.account_id,
            "name": self.name,
            "identity_key": self.identity_key,
            "kx_key": self.kx_key,
            "kx_signature": self.kx_signature,
            "created_at": self.created_at,
            "last_seen_at": self.last_seen_at,
            "revoked_at": self.revoked_at,
            "session": self.session,
        }


@dataclass(frozen=True)
class Backup:
    """An account's backup key: a message recipient listed with its devices (API.md "History
    on a new device"). Replaced and removed ones are kept (`revoked_at`), so wraps for them
    stay attributable; only one is current per account."""

    backup_id: str
    account_id: str
    kx_key: bytes
    signatures: dict[str, bytes]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def from_doc(cls, doc: Document) -> Backup:
        return cls(
            backup_id=doc["_id"],
            account_id=doc["account_id"],
            kx_key=bytes(doc["kx_key"]),
            signatures={k: bytes(v) for k, v in (doc.get("signatures") or {}).items()},
            created_at=doc["created_at"],
            revoked_at=doc.get("revoked_at"),
        )

    def to_doc(self) -> Document:
        doc: Document = {
            "_id": self.backup_id,
            "account_id": self.account_id,
            "kx_key": self.kx_key,
            "signatures": dict(self.signatures),
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }
        if self.revoked_at is None:
            doc["current_of"] = self.account_id  # unique while current: one per account
        return doc


@dataclass(frozen=True)
class Link:
    """A secret one device of an account sent another (API.md "Linking"): a box to the target
    device's kx key the server cannot open, kept until the target acknowledges it or it
    expires."""

    link_id: str
    account_id: str
    device_id: str  # the target
    sender_device_id: str
    ciphertext: bytes
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_doc(cls, doc: Document) -> Link:
        return cls(
            link_id=doc["_id"],
            account_id=doc["account_id"],
            device_id=doc["device_id"],
            sender_device_id=doc["sender_device_id"],
            ciphertext=bytes(doc["ciphertext"]),
            created_at=doc["created_at"],
            expires_at=doc["expires_at"],
        )

    def to_doc(self) -> Document:
        return {
            "_id": self.link_id,
            "account_id": self.account_id,
            "device_id": self.device_id,
            "sender_device_id": self.sender_device_id,
            "ciphertext": self.ciphertext,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }


RelationshipStatus = Literal["active", "paused", "ended"]


@dataclass(frozen=True)
class Contact:
    """How two accounts are connected: `until` is None while a relationship is live (or for
    yourself), else the moment their last relationship ended — what they saw of each other
    stops there."""

    until: datetime | None = None

    @property
    def live(self) -> bool:
        return self.until is None


@dataclass(frozen=True)
class ParticipantSettings:
    """One participant's own choices for a conversation; None where they never chose."""

    share_read_receipts: bool | None = None
    retention_chosen: bool = False
    retention_days: int | None = None  # with retention_chosen: None means "keep"

    @classmethod
    def from_doc(cls, doc: Document | None) -> ParticipantSettings:
        doc = doc or {}
        return cls(
            share_read_receipts=doc.get("share_read_receipts"),
            retention_chosen="retention_days" in doc,
            retention_days=doc.get("retention_days"),
        )


@dataclass(frozen=True)
class Relationship:
    """A coach and a client; each relationship is one conversation."""

    conversation_id: str
    coach_account_id: str
    client_account_id: str
    status: RelationshipStatus
    created_at: datetime
    ended_at: datetime | None = None
    pause_reason: str | None = None
    resume_on: str | None = None  # an ISO date, shown to the client as given
    settings: dict[str, ParticipantSettings] = field(default_factory=dict)
    retention_days: int | None = None  # the effective retention (None: keep)

    @property
    def participants(self) -> list[str]:
        return [self.coach_account_id, self.client_account_id]

    @property
    def live_pair(self) -> str:
        """Unique among relationships that have not ended: one live conversation per pair."""
        return f"{self.coach_account_id}:{self.client_account_id}"

    def role_of(self, account_id: str) -> Role:
        return "coach" if account_id == self.coach_account_id else "client"

    def settings_of(self, account_id: str) -> ParticipantSettings:
        return self.settings.get(account_id, ParticipantSettings())

    @classmethod
    def from_doc(cls, doc: Document) -> Relationship:
        pause = doc.get("pause") or {}
        return cls(
            conversation_id=doc["_id"],
            coach_account_id=doc["coach_account_id"],
            client_account_id=doc["client_account_id"],
            status=doc["status"],
            created_at=doc["created_at"],
            ended_at=doc.get("ended_at"),
            pause_reason=pause.get("reason"),
            resume_on=pause.get("resume_on"),
            settings={
                account: ParticipantSettings.from_doc(value)
                for account, value in (doc.get("settings") or {}).items()
            },
            retention_days=doc.get("retention_days"),
        )

    def to_doc(self) -> Document:
        doc: Document = {
            "_id": self.conversation_id,
            "coach_account_id": self.coach_account_id,
            "client_account_id": self.client_account_id,
            "status": self.status,
            "created_at": self.created_at,
            "ended_at": self.ended_at,
            "retention_days": self.retention_days,
        }
        if self.status != "ended":
            doc["live_pair"] = self.live_pair
        return doc


@dataclass(frozen=True)
class Invite:
    kind: Literal["coach", "client"]
    created_by: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    @classmethod
    def from_doc(cls, doc: Document) -> Invite:
        return cls(
            kind=doc["kind"],
            created_by=doc["created_by"],
            created_at=doc["created_at"],
            expires_at=doc["expires_at"],
            used_at=doc.get("used_at"),
        )

    def to_doc(self) -> Document:
        return {
            "kind": self.kind,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "used_at": self.used_at,
        }


@dataclass(frozen=True)
class RefreshRecord:
    """A refresh token's record (stored under the token's hash, never the token)."""

    device_id: str
    account_id: str
    session: int
    created_at: datetime
    expires_at: datetime
    spent_at: datetime | None = None
    successor_seed: bytes | None = None  # derives the successor on any replica, any key
    successor_digest: str | None = None  # which successor the spending got

    @classmethod
    def from_doc(cls, doc: Document) -> RefreshRecord:
        seed = doc.get("successor_seed")
        return cls(
            device_id=doc["device_id"],
            account_id=doc["account_id"],
            session=int(doc["session"]),
            created_at=doc["created_at"],
            expires_at=doc["expires_at"],
            spent_at=doc.get("spent_at"),
            successor_seed=bytes(seed) if seed is not None else None,
            successor_digest=doc.get("successor"),
        )

    def to_doc(self) -> Document:
        return {
            "device_id": self.device_id,
            "account_id": self.account_id,
            "session": self.session,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "spent_at": self.spent_at,
            "successor_seed": self.successor_seed,
        }


@dataclass(frozen=True)
class AuditRecord:
    """A security event: metadata only, never passwords, tokens, keys or content."""

    event_id: str
    type: str
    at: datetime
    account_id: str | None = None
    device_id: str | None = None
    address: str | None = None
    correlation_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_doc(cls, doc: Document) -> AuditRecord:
        return cls(
            event_id=doc["_id"],
            type=doc["type"],
            at=doc["at"],
            account_id=doc.get("account_id"),
            device_id=doc.get("device_id"),
            address=doc.get("address"),
            correlation_id=doc.get("correlation_id"),
            details=doc.get("details") or {},
        )

    def to_doc(self) -> Document:
        return {
            "_id": self.event_id,
            "type": self.type,
            "at": self.at,
            "account_id": self.account_id,
            "device_id": self.device_id,
            "address": self.address,
            "correlation_id": self.correlation_id,
            "details": self.details,
        }
