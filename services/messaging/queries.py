"""Messaging's reads, answered over RPC: history pages, conversation summaries, one message."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from services.messaging.documents import history_item
from services.messaging.repository import MessagingRepository
from shared.events import Schema
from shared.rpc import RpcHandler

DEFAULT_LIMIT, MAX_LIMIT = 50, 200


class HistoryRequest(Schema):
    conversation_id: str = Field(min_length=1)
    after_seq: int | None = Field(default=None, ge=0)
    before_seq: int | None = Field(default=None, ge=0)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)

    @model_validator(mode="after")
    def _one_direction(self) -> HistoryRequest:
        if self.after_seq is not None and self.before_seq is not None:
            raise ValueError("use after_seq or before_seq, not both")
        return self


class SummaryRequest(Schema):
    account_id: str = Field(min_length=1)
    conversation_ids: list[str] = Field(max_length=1000)


class MessageRequest(Schema):
    conversation_id: str = Field(min_length=1)
    message_id: str = Field(min_length=1)


class Queries:
    def __init__(self, repo: MessagingRepository) -> None:
        self._repo = repo

    async def history(self, raw: dict[str, Any]) -> dict[str, Any]:
        """`after_seq` (default 0) ascending, for sync; `before_seq` descending, to scroll back."""
        request = HistoryRequest.model_validate(raw)
        page = await self._repo.page(
            request.conversation_id,
            after=request.after_seq,
            before=request.before_seq,
            limit=request.limit,
        )
        return {
            "messages": [history_item(doc) for doc in page[: request.limit]],
            "has_more": len(page) > request.limit,
        }

    async def summary(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Per conversation: the last stored seq and the account's own read marker."""
        request = SummaryRequest.model_validate(raw)
        ids = list(dict.fromkeys(request.conversation_ids))
        last = await self._repo.last_seqs(ids)
        read = await self._repo.markers(request.account_id, ids)
        return {
            "conversations": {
                cid: {"last_seq": last.get(cid, 0), "read_up_to": read.get(cid, 0)} for cid in ids
            }
        }

    async def message(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Enough for the gateway to answer a delete request: does it exist, and whose is it."""
        request = MessageRequest.model_validate(raw)
        doc = await self._repo.find_message(request.conversation_id, request.message_id)
        if doc is None:
            return {"found": False}
        return {
            "found": True,
            "sender_account_id": doc["sender_account_id"],
            "seq": doc["seq"],
            "deleted": bool(doc.get("deleted")),
        }

    def routes(self) -> dict[str, RpcHandler]:
        return {
            "messaging.history": self.history,
            "messaging.summary": self.summary,
            "messaging.message": self.message,
        }
