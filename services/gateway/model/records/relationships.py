"""Records of relationships (one conversation each), their settings, and invites."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from services.gateway.model.records.common import Role
from shared.mongo import Document

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
