"""What every event on `haven.events` shares: the envelope (`EventBase`), its deterministic id,
and the immutable, forward-tolerant schema config (shared/events.py lists the event types)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.logging import current_correlation_id


class Schema(BaseModel):
    """Shared config: immutable, tolerant of fields added by newer producers."""

    model_config = ConfigDict(frozen=True, extra="ignore")


def utcnow() -> datetime:
    return datetime.now(UTC)


def derive_event_id(event_type: str, key: str) -> str:
    """Deterministic id, so a re-published event dedupes downstream."""
    return hashlib.blake2b(f"{event_type}\x00{key}".encode(), digest_size=16).hexdigest()


def occurrence() -> str:
    """For facts that are new every time (a key rotation): an id key that never repeats."""
    return uuid.uuid4().hex


D = TypeVar("D", bound=Schema)


class EventBase(Schema, Generic[D]):
    event_id: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)
    correlation_id: str | None = None
    data: D

    @classmethod
    def kind(cls) -> str:
        """The event's `type` (its routing key on `haven.events`)."""
        return str(cls.model_fields["type"].default)

    @classmethod
    def id_key(cls, data: D) -> str:
        """What makes this fact unique; the event id derives from it and the type."""
        raise NotImplementedError

    @classmethod
    def create(
        cls,
        data: D,
        *,
        key: str | None = None,
        occurred_at: datetime | None = None,
        correlation_id: str | None = None,
    ) -> Self:
        """The event for `data`; `key` overrides `id_key`, the correlation id defaults to the
        current request's."""
        return cls(
            event_id=derive_event_id(cls.kind(), cls.id_key(data) if key is None else key),
            occurred_at=occurred_at or utcnow(),
            correlation_id=correlation_id or current_correlation_id(),
            data=data,
        )
