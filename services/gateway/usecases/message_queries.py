"""History, delete-for-everyone and read markers: checked here, executed by messaging."""

from __future__ import annotations

from services.gateway import copy
from services.gateway.model.principal import Principal
from services.gateway.security.limits import Limits
from services.gateway.usecases.message_commands import SendCommand
from services.gateway.usecases.relationships import Relationships
from services.gateway.usecases.retention import shares_read_receipts
from shared.commands import DeleteData, DeleteMessage, MarkRead, ReadData
from shared.contracts import (
    DEFAULT_LIMIT,
    HISTORY,
    MAX_INT64,
    MAX_LIMIT,
    MESSAGE,
    HistoryPage,
    HistoryQuery,
    MessageLookup,
)
from shared.errors import ConflictError, ForbiddenError, NotFoundError, UnprocessableError
from shared.events import utcnow
from shared.rpc import RpcClient


def _int(query: dict[str, str], name: str) -> int | None:
    if name not in query:
        return None
    try:
        value = int(query[name])
    except ValueError as error:
        raise UnprocessableError(f"{name} must be an integer", field=name) from error
    if value < 0:
        raise UnprocessableError(f"{name} must not be negative", field=name)
    if value > MAX_INT64:  # the store's integers are 64-bit: past them the RPC failed (503)
        raise UnprocessableError(f"{name} is too large", field=name)
    return value


def history_query(conversation_id: str, query: dict[str, str]) -> HistoryQuery:
    """The query string as messaging's history request, or 422 naming the bad parameter."""
    after, before, limit = _int(query, "after_seq"), _int(query, "before_seq"), _int(query, "limit")
    if after is not None and before is not None:
        raise UnprocessableError("use after_seq or before_seq, not both", field="before_seq")
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise UnprocessableError(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if before is not None:
        return HistoryQuery(
            conversation_id=conversation_id, before_seq=before, limit=limit or DEFAULT_LIMIT
        )
    return HistoryQuery(
        conversation_id=conversation_id, after_seq=after or 0, limit=limit or DEFAULT_LIMIT
    )


class Reads:
    def __init__(
        self,
        *,
        relationships: Relationships,
        rpc: RpcClient,
        send_command: SendCommand,
        limits: Limits,
    ) -> None:
        self._limits = limits
        self._relationships = relationships
        self._rpc = rpc
        self._send_command = send_command

    async def history(
        self, who: Principal, conversation_id: str, query: dict[str, str]
    ) -> HistoryPage:
        request = history_query(conversation_id, query)
        await self._relationships.participant_of(who, conversation_id)
        return await self._rpc.call(HISTORY, request)

    async def delete_for_everyone(
        self, who: Principal, conversation_id: str, message_id: str
    ) -> None:
        """The sender's own message, while the relationship lasts: once it ended, the record
        stays as both sides had it (issue 18). Deletions are rate limited per account."""
        relationship = await self._relationships.participant_of(who, conversation_id)
        if relationship.status == "ended":
            raise ConflictError(copy.RECORD_KEPT)
        await self._limits.check("delete", who.account_id, utcnow())
        found = await self._rpc.call(
            MESSAGE, MessageLookup(conversation_id=conversation_id, message_id=message_id)
        )
        if not found.found:
            raise NotFoundError("no such message")
        if found.sender_account_id != who.account_id:
            raise ForbiddenError("only the sender can delete a message for everyone")
        await self._send_command(
            DeleteMessage.create(
                DeleteData(
                    conversation_id=conversation_id,
                    message_id=message_id,
                    requested_by=who.account_id,
                )
            )
        )

    async def mark_read(self, who: Principal, conversation_id: str, up_to_seq: int) -> None:
        """The marker always moves; the counterpart hears of it only if the reader shares
        read receipts (decided here, where the setting lives, and carried by the command)."""
        relationship = await self._relationships.participant_of(who, conversation_id)
        await self._send_command(
            MarkRead.create(
                ReadData(
                    conversation_id=conversation_id,
                    account_id=who.account_id,
                    up_to_seq=up_to_seq,
                    share=shares_read_receipts(relationship, who.account_id),
                )
            )
        )
