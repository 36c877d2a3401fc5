"""History, delete-for-everyone and read markers: checked here, executed by messaging."""

from __future__ import annotations

from typing import Any

from services.gateway.context import Gateway, Principal
from services.gateway.identity.relationships import participant_of
from services.gateway.messages.send import publish_command
from shared.commands import DeleteData, DeleteMessage, MarkRead, ReadData
from shared.errors import Forbidden, NotFound, Unprocessable
from shared.logging import current_correlation_id
from shared.rpc import RpcClient

DEFAULT_LIMIT, MAX_LIMIT = 50, 200


def _int(query: dict[str, str], name: str) -> int | None:
    if name not in query:
        return None
    try:
        value = int(query[name])
    except ValueError as error:
        raise Unprocessable(f"{name} must be an integer", field=name) from error
    if value < 0:
        raise Unprocessable(f"{name} must not be negative", field=name)
    return value


async def history(
    gw: Gateway, who: Principal, conversation_id: str, query: dict[str, str]
) -> dict[str, Any]:
    after, before, limit = _int(query, "after_seq"), _int(query, "before_seq"), _int(query, "limit")
    if after is not None and before is not None:
        raise Unprocessable("use after_seq or before_seq, not both", field="before_seq")
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise Unprocessable(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    await participant_of(gw, who, conversation_id)
    request: dict[str, Any] = {"conversation_id": conversation_id, "limit": limit or DEFAULT_LIMIT}
    if before is not None:
        request["before_seq"] = before
    else:
        request["after_seq"] = after or 0
    return await RpcClient.of(gw.bus).call("messaging.history", request)


async def delete_for_everyone(
    gw: Gateway, who: Principal, conversation_id: str, message_id: str
) -> None:
    await participant_of(gw, who, conversation_id)
    found = await RpcClient.of(gw.bus).call(
        "messaging.message", {"conversation_id": conversation_id, "message_id": message_id}
    )
    if not found.get("found"):
        raise NotFound("no such message")
    if found.get("sender_account_id") != who.account_id:
        raise Forbidden("only the sender can delete a message for everyone")
    await publish_command(
        gw,
        DeleteMessage(
            command_id=f"delete:{conversation_id}:{message_id}",
            correlation_id=current_correlation_id(),
            data=DeleteData(
                conversation_id=conversation_id, message_id=message_id, requested_by=who.account_id
            ),
        ),
    )


async def mark_read(gw: Gateway, who: Principal, conversation_id: str, up_to_seq: int) -> None:
    await participant_of(gw, who, conversation_id)
    await publish_command(
        gw,
        MarkRead(
            command_id=f"read:{conversation_id}:{who.account_id}:{up_to_seq}",
            correlation_id=current_correlation_id(),
            data=ReadData(
                conversation_id=conversation_id, account_id=who.account_id, up_to_seq=up_to_seq
            ),
        ),
    )
