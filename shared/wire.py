"""Shapes every service renders the same way: UTC times, the wire envelope, the message item.

A message item is what a device sees of one stored message, in a history page (over RPC,
then HTTP) and in a WebSocket `message` frame alike; it is defined here once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, as every time in the API is rendered."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _as_utc(value: datetime) -> datetime:
    """Naive times are UTC (BSON stores UTC); aware ones are converted."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[
    datetime, AfterValidator(_as_utc), PlainSerializer(iso_utc, return_type=str, when_used="json")
]
Base64Url = Annotated[str, Field(min_length=1, json_schema_extra={"contentEncoding": "base64url"})]


class WireEnvelope(BaseModel):
    """The haven-v1 envelope exactly as it travels (API.md, plus `commitment`): binary fields
    as canonical base64url. The gateway parsed and verified it (`haven_crypto.envelope`); services
    behind it store and forward it untouched, so no field may be dropped or added."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_id: str = Field(min_length=1, json_schema_extra={"format": "uuid"})
    sender_device_id: str = Field(min_length=1)
    alg: str = Field(min_length=1, examples=["haven-v1"])
    urgent: bool
    nonce: Base64Url
    ciphertext: Base64Url
    keys: dict[str, Base64Url] = Field(min_length=1)
    commitment: Base64Url
    signature: Base64Url


# A `WireEnvelope` once the command that carried it was validated: stored and forwarded as the
# JSON object it was, never re-parsed past messaging's door (its schema is the wire's).
StoredEnvelope = Annotated[dict[str, object], WithJsonSchema(WireEnvelope.model_json_schema())]


class MessageItem(BaseModel):
    """One stored message as a device sees it; a deleted one keeps its place, without envelope.

    History (an RPC reply) leaves out the missing envelope, the HTTP answer renders it null.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    message_id: str
    conversation_id: str
    seq: int
    sender_account_id: str
    sender_device_id: str
    server_ts: UtcDatetime
    urgent: bool
    deleted: bool = False
    envelope: StoredEnvelope | None = None
