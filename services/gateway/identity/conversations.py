"""The caller's conversations: relationships joined with messaging's per-conversation state."""

from __future__ import annotations

from services.gateway.context import Gateway, Principal
from services.gateway.schemas import ConversationOut, Participant
from shared.rpc import RpcClient


async def list_for(gw: Gateway, who: Principal) -> list[ConversationOut]:
    found = await gw.relationships.of_account(who.account_id)
    if not found:
        return []
    ids = sorted({r["coach_account_id"] for r in found} | {r["client_account_id"] for r in found})
    people = await gw.accounts.by_ids(ids)
    state = await RpcClient.of(gw.bus).call(
        "messaging.summary",
        {"account_id": who.account_id, "conversation_ids": [r["_id"] for r in found]},
    )
    summaries = state.get("conversations", {})
    result = []
    for relationship in found:
        summary = summaries.get(relationship["_id"], {})
        members = [
            people[a]
            for a in (relationship["coach_account_id"], relationship["client_account_id"])
            if a in people
        ]
        result.append(
            ConversationOut(
                conversation_id=relationship["_id"],
                status=relationship["status"],
                participants=[
                    Participant(
                        account_id=p["_id"],
                        handle=p["handle"],
                        display_name=p.get("display_name") or p["handle"],
                        role=p["role"],
                    )
                    for p in members
                ],
                last_seq=int(summary.get("last_seq", 0)),
                read_up_to=int(summary.get("read_up_to", 0)),
            )
        )
    return result
