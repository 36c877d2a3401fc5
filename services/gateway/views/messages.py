"""Views: sending, history, delete for everyone, read markers, crisis resources."""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from services.gateway.http import caller, endpoint, gateway, parse, render
from services.gateway.messages import queries, send
from services.gateway.schemas import (
    Accepted,
    CrisisResources,
    History,
    ReadMarker,
    SendRequest,
)
from shared.errors import Forbidden, Unavailable


@endpoint(
    "POST",
    "/v1/conversations/{conversation_id}/messages",
    "Send an encrypted message",
    body=SendRequest,
    response=Accepted,
    status=202,
    tag="messages",
)
async def post_message(request: web.Request) -> web.Response:
    gw, who = gateway(request), caller(request)
    body = await parse(request, SendRequest)
    cid = request.match_info["conversation_id"]
    message_id = await send.send(gw, who, cid, body.envelope)
    resources = await gw.crisis.current() if send.wants_urgent(body.envelope) else None
    accepted = Accepted(message_id=message_id, crisis_resources=resources)
    return render(accepted, 202, exclude_none=True)


@endpoint(
    "GET",
    "/v1/conversations/{conversation_id}/messages",
    "History: ?after_seq=N (ascending) or ?before_seq=N (descending), &limit=L",
    response=History,
    tag="messages",
)
async def get_messages(request: web.Request) -> web.Response:
    found = await queries.history(
        gateway(request),
        caller(request),
        request.match_info["conversation_id"],
        dict(request.query),
    )
    try:
        history = History.model_validate(found)
    except ValidationError as error:  # messaging answered nonsense: not the caller's fault
        raise Unavailable("the message store gave an unexpected answer") from error
    return render(history)


@endpoint(
    "DELETE",
    "/v1/conversations/{conversation_id}/messages/{message_id}",
    "Delete a message for everyone (sender only)",
    status=202,
    tag="messages",
)
async def delete_message(request: web.Request) -> web.Response:
    await queries.delete_for_everyone(
        gateway(request),
        caller(request),
        request.match_info["conversation_id"],
        request.match_info["message_id"],
    )
    return web.json_response(
        {"message_id": request.match_info["message_id"], "status": "accepted"}, status=202
    )


@endpoint(
    "POST",
    "/v1/conversations/{conversation_id}/read",
    "Move your read marker",
    body=ReadMarker,
    status=202,
    tag="messages",
)
async def post_read(request: web.Request) -> web.Response:
    body = await parse(request, ReadMarker)
    await queries.mark_read(
        gateway(request), caller(request), request.match_info["conversation_id"], body.up_to_seq
    )
    return web.json_response({"status": "accepted"}, status=202)


@endpoint(
    "GET",
    "/v1/crisis-resources",
    "Crisis resources (public)",
    auth=False,
    response=CrisisResources,
    tag="safety",
)
async def get_crisis_resources(request: web.Request) -> web.Response:
    return web.json_response({"resources": await gateway(request).crisis.current()})


@endpoint(
    "PUT",
    "/v1/admin/crisis-resources",
    "Set the crisis resources (operators)",
    body=CrisisResources,
    status=204,
    tag="safety",
)
async def put_crisis_resources(request: web.Request) -> web.Response:
    gw, who = gateway(request), caller(request)
    if who.role != "operator":
        raise Forbidden("operators only")
    body = await parse(request, CrisisResources)
    await gw.crisis.replace([r.model_dump() for r in body.resources])
    # What people in crisis are shown is safety-critical: always know who changed it.
    await gw.audit(
        "crisis_resources_changed",
        account_id=who.account_id,
        device_id=who.device_id,
        address=who.address,
        count=len(body.resources),
    )
    return web.Response(status=204)
