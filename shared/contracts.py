"""The reads messaging answers for the gateway over `haven.rpc`: routes, requests, replies.

Both sides hold only these models (`shared.rpc.Route` validates them once): the gateway calls
`RpcClient.call(HISTORY, HistoryQuery(...))` and gets a `HistoryPage`; messaging serves
`HISTORY.serve(handler)`.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from shared.events import Schema
from shared.rpc import Route
from shared.wire import MessageItem

DEFAULT_LIMIT, MAX_LIMIT = 50, 200


class HistoryQuery(Schema):
    """`after_seq` (default 0) pages ascending, for sync; `before_seq` descending, to scroll."""

    conversation_id: str = Field(min_length=1)
    after_seq: int | None = Field(default=None, ge=0)
    before_seq: int | None = Field(default=None, ge=0)
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
