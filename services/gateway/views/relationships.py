"""Views: invites and conversations (relationships)."""

from __future__ import annotations

from aiohttp import web

from services.gateway.http import caller, endpoint, gateway, parse, render
from services.gateway.identity import conversations, relationships
from services.gateway.schemas import (
    AcceptInvite,
    ConversationList,
    ConversationRef,
    ConversationStatus,
    InviteOut,
    InviteRequest,
)


@endpoint(
    "POST",
    "/v1/invites",
    "Create an invite (operator: coach, coach: client)",
    body=InviteRequest,
    response=InviteOut,
    status=201,
)
async def create_invite(request: web.Request) -> web.Response:
    body = await parse(request, InviteRequest)
    invite = await relationships.create_invite(gateway(request), caller(request), body.kind)
    return render(invite, 201)


@endpoint(
    "POST",
    "/v1/invites/accept",
    "An existing client connects to another coach",
    body=AcceptInvite,
    response=ConversationRef,
    status=201,
)
async def accept_invite(request: web.Request) -> web.Response:
    body = await parse(request, AcceptInvite)
    conversation_id = await relationships.accept_invite(
        gateway(request), caller(request), body.code
    )
    return render(ConversationRef(conversation_id=conversation_id), 201)


@endpoint("GET", "/v1/conversations", "The caller's conversations", response=ConversationList)
async def list_conversations(request: web.Request) -> web.Response:
    found = await conversations.list_for(gateway(request), caller(request))
    return render(ConversationList(conversations=found))


@endpoint(
    "POST",
    "/v1/conversations/{conversation_id}/end",
    "End a relationship (read-only after)",
    response=ConversationStatus,
)
async def end_conversation(request: web.Request) -> web.Response:
    conversation_id = request.match_info["conversation_id"]
    await relationships.end(gateway(request), caller(request), conversation_id)
    return render(ConversationStatus(conversation_id=conversation_id, status="ended"))
