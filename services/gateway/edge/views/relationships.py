"""Views: invites and conversations (relationships), their state and their settings."""

from __future__ import annotations

from aiohttp import web

from services.gateway.edge.http import caller, endpoint, parse, render
from services.gateway.edge.keys import conversations_key, pausing_key, relationships_key
from services.gateway.model.schemas import (
    AcceptInvite,
    ConversationList,
    ConversationRef,
    ConversationStatus,
    InviteOut,
    InviteRequest,
    PauseRequest,
    SettingsOut,
    SettingsPut,
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
    "An existing client connects to a coach (another one, or again after an end)",
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
    found = await request.app[conversations_key].listing(caller(request))
    return render(ConversationList(conversations=found))


def _status(conversation_id: str, status: str) -> web.Response:
    return render(ConversationStatus(conversation_id=conversation_id, status=status))


@endpoint(
    "POST",
    "/v1/conversations/{conversation_id}/end",
    "End a relationship (read-only after)",
    response=ConversationStatus,
)
async def end_conversation(request: web.Request) -> web.Response:
    conversation_id = request.match_info["conversation_id"]
    await request.app[relationships_key].end(caller(request), conversation_id)
    return _status(conversation_id, "ended")


@endpoint(
    "POST",
    "/v1/conversations/{conversation_id}/pause",
    "Pause a relationship (the coach): sending waits, reading stays",
    body=PauseRequest,
    response=ConversationStatus,
)
async def pause_conversation(request: web.Request) -> web.Response:
    body, conversation_id = (
        await parse(request, PauseRequest),
        request.match_info["conversation_id"],
    )
    pausing = request.app[pausing_key]
    await pausing.pause(caller(request), conversation_id, body.reason, body.resume_on)
    return _status(conversation_id, "paused")


@endpoint(
    "POST",
    "/v1/conversations/{conversation_id}/resume",
    "Resume a paused relationship (the coach)",
    response=ConversationStatus,
)
async def resume_conversation(request: web.Request) -> web.Response:
    conversation_id = request.match_info["conversation_id"]
    await request.app[pausing_key].resume(caller(request), conversation_id)
    return _status(conversation_id, "active")


@endpoint(
    "PUT",
    "/v1/conversations/{conversation_id}/settings",
    "Your own settings in a conversation: read receipts, push detail, retention",
    body=SettingsPut,
    response=SettingsOut,
)
async def put_settings(request: web.Request) -> web.Response:
    body, conversation_id = await parse(request, SettingsPut), request.match_info["conversation_id"]
    settings = await request.app[conversations_key].put_settings(
        caller(request), conversation_id, body
    )
    return render(settings)
