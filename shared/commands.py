"""Versioned commands on `haven.commands`, sharded by conversation so one shard orders them."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from shared.events import Schema, utcnow


def shard_for(conversation_id: str, shards: int) -> int:
    """Stable across processes and versions (never Python's salted hash())."""
    digest = hashlib.blake2b(conversation_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


class CommandBase(Schema):
    command_id: str
    version: int = 1
    issued_at: datetime = Field(default_factory=utcnow)
    correlation_id: str | None = None

    def routing_key(self, shards: int) -> str:
        data = getattr(self, "data")  # noqa: B009 - every concrete command has data
        return f"{self.type_name()}.{shard_for(data.conversation_id, shards)}"

    def type_name(self) -> str:
        return str(getattr(self, "type"))  # noqa: B009


class SendData(Schema):
    conversation_id: str
    message_id: str
    sender_account_id: str
    sender_device_id: str
    urgent: bool
    envelope: dict[str, object]
    participants: list[str]


class SendMessage(CommandBase):
    type: Literal["message.send"] = "message.send"
    data: SendData


class DeleteData(Schema):
    conversation_id: str
    message_id: str
    requested_by: str


class DeleteMessage(CommandBase):
    type: Literal["message.delete"] = "message.delete"
    data: DeleteData


class ReadData(Schema):
    conversation_id: str
    account_id: str
    up_to_seq: int = Field(ge=0)


class MarkRead(CommandBase):
    type: Literal["receipt.read"] = "receipt.read"
    data: ReadData


Command = Annotated[SendMessage | DeleteMessage | MarkRead, Field(discriminator="type")]
COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


def decode_command(body: bytes) -> Command:
    return COMMAND_ADAPTER.validate_json(body)
