"""Records of accounts, their refresh tokens and their security audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.gateway.model.records.common import Role
from shared.mongo import Document


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
