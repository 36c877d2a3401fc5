"""Records of devices and the kx keys they rotated away from."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.mongo import Document


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
