"""Views: sending, history, delete for everyone, read markers, crisis resources."""

from __future__ import annotations

from aiohttp import web

from services.gateway.edge.http import caller, endpoint, parse, render
from services.gateway.edge.keys import operations_key, reads_key, sending_key
from services.gateway.model.schemas import (
    Accepted,
    CrisisResources,
    ReadMarker,
    SendRequest,
)
from shared.contracts import HistoryPage


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
    body = await parse(request, SendRequest)
    message_id = await request.app[sending_key].send(
        caller(request), request.match_info["conversation_id"], body.envelope
    )
    # An urgent send's crisis resources are added at the edge (services/gateway/edge/urgent.py).
    return render(Accepted(message_id=message_id), 202, exclude_none=True)


@endpoint(
    "GET",
    "/v1/conversations/{conversation_id}/messages",
    "History: ?after_seq=N (ascending) or ?before_seq=N (descending), &limit=L",
    response=HistoryPage,
    tag="messages",
)
async def get_messages(request: web.Request) -> web.Response:
    page = await request.app[reads_key].history(
        caller(request), request.match_info["conversation_id"], dict(request.query)
    )
    return render(page)


@endpoint(
    "DELETE",
    "/v1/conversations/{conversation_id}/messages/{message_id}",
    "Delete a message for everyone (sender only)",
    status=202,
    tag="messages",
)
async def delete_message(request: web.Request) -> web.Response:
    await request.app[reads_key].delete_for_everyone(
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
    await request.app[reads_key].mark_read(
        caller(request), request.match_info["conversation_id"], body.up_to_seq
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
    return web.json_response({"resources": await request.app[operations_key].crisis_resources()})


@endpoint(
    "PUT",
    "/v1/admin/crisis-resources",
    "Set the crisis resources (operators)",
    body=CrisisResources,
    status=204,
    tag="safety",
)
async def put_crisis_resources(request: web.Request) -> web.Response:
    body = await parse(request, CrisisResources)
    resources = [r.model_dump() for r in body.resources]
    await request.app[operations_key].set_crisis_resources(caller(request), resources)
    return web.Response(status=204)
