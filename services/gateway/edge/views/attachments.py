"""Views: upload and download of encrypted attachments, streamed both ways (API.md)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from aiohttp import web

from services.gateway.edge.http import caller, endpoint, render
from services.gateway.edge.keys import attachments_key
from services.gateway.edge.problems import HTTP_CODES, describe, problem
from services.gateway.model.schemas import AttachmentStored
from shared.errors import InvalidRequestError

# Longer numbers than any blob's size (int() refuses over 4,300 digits): not a form we serve.
RANGE = re.compile(r"bytes=(\d{0,30})-(\d{0,30})")
PIECE = 64 * 1024


async def _body(request: web.Request, length: int) -> AsyncIterator[bytes]:
    """The body as it arrives, never more than Content-Length."""
    received = 0
    async for piece in request.content.iter_chunked(PIECE):
        received += len(piece)
        if received > length:
            raise InvalidRequestError("the body is longer than Content-Length")
        yield piece
    if received != length:
        raise InvalidRequestError("the body is shorter than Content-Length")


@endpoint(
    "POST",
    "/v1/conversations/{conversation_id}/attachments",
    "Upload an encrypted attachment (application/octet-stream, Content-Length required)",
    response=AttachmentStored,
    status=201,
    tag="messages",
)
async def post_attachment(request: web.Request) -> web.Response:
    attachments = request.app[attachments_key]
    who, conversation_id = caller(request), request.match_info["conversation_id"]
    try:
        length = _announced_length(request)
        await attachments.admit_upload(who, conversation_id, length)
    except Exception as error:
        # Refused before the body is read: close the connection rather than drain the body.
        refusal = describe_refusal(error)
        refusal.force_close()
        await refusal.prepare(request)
        await refusal.write_eof()
        request.protocol.force_close()  # no lingering over a body nobody will read
        return refusal
    body = _body(request, length)
    attachment_id, size = await attachments.upload(who, conversation_id, body, length)
    return render(AttachmentStored(attachment_id=attachment_id, size=size), 201)


def _announced_length(request: web.Request) -> int:
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        raise web.HTTPLengthRequired(reason="Content-Length is required")
    length = request.content_length
    if length is None:
        raise web.HTTPLengthRequired(reason="Content-Length is required")
    if request.content_type != "application/octet-stream":
        raise web.HTTPUnsupportedMediaType(reason="send the bytes as application/octet-stream")
    if length == 0:
        raise InvalidRequestError("the attachment is empty")
    return length


def describe_refusal(error: Exception) -> web.Response:
    if isinstance(error, web.HTTPException):
        return problem(error.status, HTTP_CODES.get(error.status, "invalid_request"), error.reason)
    return describe(error).response()


def _range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) of a single `bytes=` range, None for no range; 416 when unsatisfiable."""
    match = RANGE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None  # not a form we serve: the whole blob, as RFC 9110 allows
    first, last = match.group(1), match.group(2)
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(size - 1, int(last)) if last else size - 1
    if start >= size or start > end:
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return start, end


@endpoint(
    "GET",
    "/v1/conversations/{conversation_id}/attachments/{attachment_id}",
    "Download an encrypted attachment (Range supported)",
    tag="messages",
)
async def get_attachment(request: web.Request) -> web.StreamResponse:
    attachments = request.app[attachments_key]
    blob = await attachments.open(
        caller(request),
        request.match_info["conversation_id"],
        request.match_info["attachment_id"],
    )
    span = (
        _range(request.headers.get("Range", ""), blob.size) if "Range" in request.headers else None
    )
    start, end = span if span is not None else (0, blob.size - 1)
    response = web.StreamResponse(status=206 if span is not None else 200)
    response.headers.update(
        {
            "Content-Type": "application/octet-stream",
            "Content-Disposition": "attachment",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Accept-Ranges": "bytes",
        }
    )
    if span is not None:
        response.headers["Content-Range"] = f"bytes {start}-{end}/{blob.size}"
    response.content_length = end - start + 1
    await response.prepare(request)
    async for piece in attachments.read(blob, start, end):
        await response.write(piece)
    await response.write_eof()
    return response
