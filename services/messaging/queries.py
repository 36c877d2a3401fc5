"""Messaging's reads, answered over RPC: history pages, conversation summaries, one message.

The requests and replies are the shared contract (`shared/contracts.py`); the RPC façade
parses and renders them, so these methods see only models.
"""

from __future__ import annotations

from contextlib import aclosing

from services.messaging.documents import history_item
from services.messaging.repository import MessagingRepository
from shared.contracts import (
    EXPORT,
    EXPORT_PAGE_BYTES,
    HISTORY,
    MESSAGE,
    SUMMARY,
    ConversationSummary,
    ExportCursor,
    ExportPage,
    ExportQuery,
    HistoryPage,
    HistoryQuery,
    MessageLookup,
    MessageLookupReply,
    SummaryQuery,
    SummaryReply,
)
from shared.rpc import RpcHandler
from shared.wire import MessageItem


class Queries:
    def __init__(self, repo: MessagingRepository) -> None:
        self._repo = repo

    async def history(self, query: HistoryQuery) -> HistoryPage:
        """`after_seq` (default 0) ascending, for sync; `before_seq` descending, to scroll back."""
        page = await self._repo.page(
            query.conversation_id, after=query.after_seq, before=query.before_seq, limit=query.limit
        )
        return HistoryPage(
            messages=[history_item(doc) for doc in page[: query.limit]],
            has_more=len(page) > query.limit,
        )

    async def summary(self, query: SummaryQuery) -> SummaryReply:
        """Per conversation: the last stored seq and the account's own read marker."""
        ids = list(dict.fromkeys(query.conversation_ids))
        last = await self._repo.last_seqs(ids)
        read = await self._repo.markers(query.account_id, ids)
        return SummaryReply(
            conversations={
                cid: ConversationSummary(last_seq=last.get(cid, 0), read_up_to=read.get(cid, 0))
                for cid in ids
            }
        )

    async def message(self, query: MessageLookup) -> MessageLookupReply:
        """Enough for the gateway to answer a delete request: does it exist, and whose is it."""
        doc = await self._repo.find_message(query.conversation_id, query.message_id)
        if doc is None:
            return MessageLookupReply(found=False)
        return MessageLookupReply(
            found=True,
            sender_account_id=doc["sender_account_id"],
            seq=doc["seq"],
            deleted=bool(doc.get("deleted")),
        )

    async def export(self, query: ExportQuery) -> ExportPage:
        """One page of an export: up to `limit` messages or about `EXPORT_PAGE_BYTES`."""
        after = (query.after.conversation_id, query.after.seq) if query.after else None
        items: list[MessageItem] = []
        size = 0
        pages = self._repo.export_page(query.conversation_ids, after, query.limit + 1)
        async with aclosing(pages) as docs:
            async for doc in docs:
                if len(items) == query.limit or size >= EXPORT_PAGE_BYTES:
                    last = items[-1]
                    cursor = ExportCursor(conversation_id=last.conversation_id, seq=last.seq)
                    return ExportPage(messages=items, next=cursor)
                item = history_item(doc)
                items.append(item)
                size += len(str(item.envelope or ""))
        return ExportPage(messages=items, next=None)

    def routes(self) -> dict[str, RpcHandler]:
        return dict(
            [
                EXPORT.serve(self.export),
                HISTORY.serve(self.history),
                SUMMARY.serve(self.summary),
                MESSAGE.serve(self.message),
            ]
        )
