"""Versioned commands on `haven.commands`, sharded by conversation so one shard orders them.

A command is made with its type's `create(data)`: the id derives from the data (a repeated
request is the same command) and the correlation id is the current request's. Commands are
named as imperatives (`message.send`); the facts they cause are events (`receipt.read`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Generic, Literal, Self, TypeVar

import pydantic
from pydantic import Field, JsonValue, TypeAdapter

from shared.events import Schema, utcnow
from shared.logging import current_correlation_id
from shared.wire import WireEnvelope


def shard_for(conversation_id: str, shards: int) -> int:
    """Stable across processes and versions (never Python's salted hash())."""
    digest = hashlib.blake2b(conversation_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


class CommandData(Schema):
    """Every command concerns one conversation: its shard, hence its order."""

    conversation_id: str


D = TypeVar("D", bound=CommandData)


class CommandBase(Schema, Generic[D]):
    command_id: str
    version: int = 1
    issued_at: datetime = Field(default_factory=utcnow)
    correlation_id: str | None = None
    data: D

    @classmethod
    def kind(cls) -> str:
        """The command's `type`; its routing key is `<type>.<shard>`."""
        return str(cls.model_fields["type"].default)

    @classmethod
    def id_for(cls, data: D) -> str:
        """The command id: the same request twice is the same command."""
        raise NotImplementedError

    @classmethod
    def create(cls, data: D) -> Self:
        return cls(command_id=cls.id_for(data), correlation_id=current_correlation_id(), data=data)

    def routing_key(self, shards: int) -> str:
        return f"{self.kind()}.{shard_for(self.data.conversation_id, shards)}"


class SendData(CommandData):
    message_id: str
    sender_account_id: str
    sender_device_id: str
    urgent: bool
    envelope: WireEnvelope
    participants: list[str]


class SendMessage(CommandBase[SendData]):
    type: Literal["message.send"] = "message.send"

    @classmethod
    def id_for(cls, data: SendData) -> str:
        return f"{data.conversation_id}:{data.message_id}"


class DeleteData(CommandData):
    message_id: str
    requested_by: str


class DeleteMessage(CommandBase[DeleteData]):
    type: Literal["message.delete"] = "message.delete"

    @classmethod
    def id_for(cls, data: DeleteData) -> str:
        return f"delete:{data.conversation_id}:{data.message_id}"


class ReadData(CommandData):
    account_id: str
    up_to_seq: int = Field(ge=0)
    # The reader's `share_read_receipts` at the time of reading; carried into `receipt.read`.
    share: bool = False


class MarkRead(CommandBase[ReadData]):
    """Move an account's read marker; messaging announces the move as `receipt.read`."""

    type: Literal["read.mark"] = "read.mark"

    @classmethod
    def id_for(cls, data: ReadData) -> str:
        return f"read:{data.conversation_id}:{data.account_id}:{data.up_to_seq}"


Command = Annotated[SendMessage | DeleteMessage | MarkRead, Field(discriminator="type")]
COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)
BATCH_ADAPTER: TypeAdapter[list[Command]] = TypeAdapter(list[Command])
ITEMS_ADAPTER: TypeAdapter[list[JsonValue]] = TypeAdapter(list[JsonValue])
COMMAND_TYPES = (SendMessage.kind(), DeleteMessage.kind(), MarkRead.kind())
# The AMQP `type` (and routing key prefix: `command.batch.<shard>`) of several commands of one
# shard in one message: a JSON array of them, in the order they were sent
# (shared/command_lanes.py).
BATCH_TYPE = "command.batch"


def decode_command(body: bytes) -> Command:
    return COMMAND_ADAPTER.validate_json(body)


def is_batch(body: bytes) -> bool:
    """A command batch is a JSON array; a lone command an object."""
    return body.lstrip()[:1] == b"["


def decode_batch(body: bytes) -> list[Command | tuple[bytes, pydantic.ValidationError]]:
    """Each command of a batch in order, or (its own JSON, the validation error) for one that
    does not validate: one bad command never costs the others. A body that is not a JSON
    array raises ValidationError, as an unreadable lone command does."""
    try:
        return list(BATCH_ADAPTER.validate_json(body))
    except pydantic.ValidationError:
        pass
    items = ITEMS_ADAPTER.validate_json(body)  # raises when the batch itself is unreadable
    decoded: list[Command | tuple[bytes, pydantic.ValidationError]] = []
    for item in items:
        raw = json.dumps(item, separators=(",", ":")).encode()
        try:
            decoded.append(COMMAND_ADAPTER.validate_json(raw))
        except pydantic.ValidationError as error:
            decoded.append((raw, error))
    return decoded


class UnreadableSend(Schema):
    """What can still be read of a `message.send` that failed validation: enough to tell its
    sender that the message will never be stored."""

    type: Literal["message.send"]
    correlation_id: str | None = None
    data: SentBy

    @classmethod
    def of(cls, body: bytes) -> UnreadableSend | None:
        """None when not even the sender can be read (then there is nobody to tell)."""
        try:
            return cls.model_validate_json(body)
        except pydantic.ValidationError:
            return None


class SentBy(Schema):
    conversation_id: str
    message_id: str
    sender_account_id: str
    sender_device_id: str
    envelope: object = None  # whatever arrived

    @property
    def signature(self) -> str | None:
        signature = self.envelope.get("signature") if isinstance(self.envelope, dict) else None
        return signature if isinstance(signature, str) else None
