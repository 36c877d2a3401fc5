"""Crisis resources on every answer to an urgent send (API.md "Messages"): the one place that
attaches them, for HTTP (any answer: 202, and every refusal — also those given before the send
logic runs: 401 from authentication, 413 for a body over the limit, 422 from validation) and
for the WebSocket's `accepted` and `error` frames."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from services.gateway.edge.http import raw_body_key
from services.gateway.edge.keys import operations_key, settings_key
from services.gateway.edge.problems import problem

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SEND_ROUTE = "/v1/conversations/{conversation_id}/messages"
URGENT_BYTES = re.compile(rb'"urgent"\s*:\s*true')


CurrentResources = Callable[[], Awaitable[list[dict[str, Any]]]]


def wants_urgent(raw_envelope: object) -> bool:
    return isinstance(raw_envelope, dict) and raw_envelope.get("urgent") is True


async def with_crisis_resources(
    answer: dict[str, Any], current: CurrentResources
) -> dict[str, Any]:
    """The answer, with the operator's crisis resources unless it carries them already."""
    if "crisis_resources" not in answer:
        answer["crisis_resources"] = await current()
    return answer


def looks_urgent(body: bytes, complete: bool) -> bool:
    """Whether a send counts as urgent, judged from its raw body so it works before parsing.

    The rule: a complete body is urgent when it parses as JSON with `envelope.urgent` true (as
    the send logic decides). Any body — complete, not JSON, or cut off at the size limit (a 413
    is never parsed) — is also urgent when its bytes up to the limit contain `"urgent": true`,
    with any whitespace around the colon; the SDK writes `urgent` before the ciphertext. Erring
    towards urgent is deliberate: extra crisis resources on an error cost nothing.
    """
    if URGENT_BYTES.search(body):
        return True
    if not complete:
        return False
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested deep enough to break the parser
        return False
    return isinstance(document, dict) and wants_urgent(document.get("envelope"))


async def read_bounded(request: web.Request, limit: int) -> tuple[bytes, bool]:
    """The whole body and True; or its first `limit` bytes and False when it is longer."""
    body = bytearray()
    while chunk := await request.content.readany():
        body.extend(chunk)
        if len(body) > limit:
            return bytes(body[:limit]), False
    return bytes(body), True


@web.middleware
async def urgent_send_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost on the send route: reads the body once (bounded) before authentication, so
    even a refused urgent send can be recognised and answered with the crisis resources."""
    resource = request.match_info.route.resource
    if request.method != "POST" or resource is None or resource.canonical != SEND_ROUTE:
        return await handler(request)
    limit = request.app[settings_key].max_body_bytes
    body, complete = await read_bounded(request, limit)
    if complete:
        request[raw_body_key] = body  # `parse` in the view reads it from here
        response = await handler(request)
    else:
        response = problem(413, "payload_too_large", f"Maximum request body size {limit} exceeded.")
    if not isinstance(response, web.Response) or not looks_urgent(body, complete):
        return response
    return await _answer_with_resources(request, response)


async def _answer_with_resources(request: web.Request, response: web.Response) -> web.Response:
    """The same answer (status, headers) with the crisis resources in its JSON body."""
    if not isinstance(response.body, bytes):
        return response
    try:
        document = json.loads(response.body)
    except ValueError:
        return response
    if not isinstance(document, dict):
        return response
    current = request.app[operations_key].crisis_resources
    response.text = json.dumps(await with_crisis_resources(document, current))
    return response
