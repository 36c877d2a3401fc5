"""What notification answers about one account for its export: facts, never secrets."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.events import Schema
from shared.rpc import Route
from shared.wire import UtcDatetime


class PersonalDataQuery(Schema):
    account_id: str = Field(min_length=1)


class PushRegistration(Schema):
    """That a device has a push gateway, and which host: never its URL path or secret."""

    device_id: str
    host: str
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class ConversationDetail(Schema):
    conversation_id: str
    notification_detail: str


class PersonalDataReply(Schema):
    """The account's notification settings (None: never set), its availability (coaches),
    its push registrations and per-conversation notification detail."""

    settings: dict[str, Any] | None = None
    availability: dict[str, Any] | None = None
    push: list[PushRegistration] = Field(default_factory=list)
    notification_details: list[ConversationDetail] = Field(default_factory=list)


NOTIFICATION_EXPORT = Route("notification.export", PersonalDataQuery, PersonalDataReply)
