"""Records of history on a new device: the account's backup key and device links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.mongo import Document


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
