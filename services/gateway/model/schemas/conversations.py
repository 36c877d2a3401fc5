"""HTTP bodies of invites, conversations (pause, per-participant settings) and the
messaging agreement."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Self

from pydantic import Field, StrictBool, model_validator

from services.gateway.model.schemas.base import Request, Response, Role


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
