"""Views: invites and conversations (relationships)."""

from __future__ import annotations

from aiohttp import web

from services.gateway.http import caller, endpoint, parse, render
from services.gateway.keys import relationships_key
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
    invite = await request.app[relationships_key].create_invite(caller(request), body.kind)
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
    conversation_id = await request.app[relationships_key].accept_invite(caller(request), body.code)
    return render(ConversationRef(conversation_id=conversation_id), 201)


@endpoint("GET", "/v1/conversations", "The caller's conversations", response=ConversationList)
async def list_conversations(request: web.Request) -> web.Response:
    found = await request.app[relationships_key].conversations(caller(request))
    return render(ConversationList(conversations=found))


@endpoint(
    "POST",
    "/v1/conversations/{conversation_id}/end",
    "End a relationship (read-only after)",
    response=ConversationStatus,
)
async def end_conversation(request: web.Request) -> web.Response:
    conversation_id = request.match_info["conversation_id"]
    await request.app[relationships_key].end(caller(request), conversation_id)
    return render(ConversationStatus(conversation_id=conversation_id, status="ended"))
