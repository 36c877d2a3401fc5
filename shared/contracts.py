"""The reads messaging answers for the gateway over `haven.rpc`: routes, requests, replies.

Both sides hold only these models (`shared.rpc.Route` validates them once): the gateway calls
`RpcClient.call(HISTORY, HistoryQuery(...))` and gets a `HistoryPage`; messaging serves
`HISTORY.serve(handler)`.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from shared.events import Schema
from shared.rpc import Route
from shared.wire import MessageItem

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
MAX_INT64 = (1 << 63) - 1
# A message's place in its conversation: the store's integers are signed 64-bit, so a larger
# cursor is refused here (`invalid_request`) rather than failing in the driver (`internal`).
Seq = Annotated[int, Field(ge=0, le=MAX_INT64)]


class HistoryQuery(Schema):
    """`after_seq` (default 0) pages ascending, for sync; `before_seq` descending, to scroll."""

    conversation_id: str = Field(min_length=1)
    after_seq: Seq | None = None
    before_seq: Seq | None = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)

    @model_validator(mode="after")
    def _one_direction(self) -> Self:
        if self.after_seq is not None and self.before_seq is not None:
            raise ValueError("use after_seq or before_seq, not both")
        return self


class HistoryPage(Schema):
    messages: list[MessageItem]
    has_more: bool


class SummaryQuery(Schema):
    """One account's view of its conversations."""

    account_id: str = Field(min_length=1)
    conversation_ids: list[str] = Field(max_length=1000)


class ConversationSummary(Schema):
    last_seq: int = 0
    read_up_to: int = 0


class SummaryReply(Schema):
    """Per conversation asked about: the last stored seq and the account's own read marker."""

    conversations: dict[str, ConversationSummary]


class MessageLookup(Schema):
    conversation_id: str = Field(min_length=1)
    message_id: str = Field(min_length=1)


class MessageLookupReply(Schema):
    """Enough to answer a delete request: does it exist, whose is it, is it gone already."""

    found: bool
    sender_account_id: str | None = None
    seq: int | None = None
    deleted: bool | None = None


HISTORY = Route("messaging.history", HistoryQuery, HistoryPage)
SUMMARY = Route("messaging.summary", SummaryQuery, SummaryReply)
MESSAGE = Route("messaging.message", MessageLookup, MessageLookupReply)


EXPORT_LIMIT = 200
EXPORT_PAGE_BYTES = 512 * 1024  # one reply stays far below RabbitMQ's message size limit


class ExportCursor(Schema):
    """Where a page of an export ended: the next page starts after this message."""

    conversation_id: str
    seq: Seq


class ExportQuery(Schema):
    """A page of the messages of these conversations (the caller's, checked by the gateway),
    keyset-ordered by (conversation_id, seq): never all at once, however long the history."""

    conversation_ids: list[str] = Field(min_length=1, max_length=1000)
    after: ExportCursor | None = None
    limit: int = Field(default=100, ge=1, le=EXPORT_LIMIT)


class ExportPage(Schema):
    """Up to `limit` unexpired messages (tombstones included) and about `EXPORT_PAGE_BYTES` of
    envelopes; `next` is null on the last page."""

    messages: list[MessageItem]
    next: ExportCursor | None = None


EXPORT = Route("messaging.export", ExportQuery, ExportPage)
