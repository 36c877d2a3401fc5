"""Operator views: the security audit log; the OpenAPI and AsyncAPI documents."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from aiohttp import web

from services.gateway.edge.asyncapi import build_asyncapi
from services.gateway.edge.http import caller, endpoint, render
from services.gateway.edge.keys import operations_key
from services.gateway.model.records import AuditRecord
from services.gateway.model.schemas import AuditEntry, AuditPage
from services.gateway.openapi import build_openapi
from shared.errors import InvalidRequestError


def _cursor(value: str | None) -> tuple[datetime, str] | None:
    if not value:
        return None
    try:
        at, event_id = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        return datetime.fromisoformat(at), str(event_id)
    except (ValueError, TypeError) as error:
        raise InvalidRequestError("before is not a cursor from a previous page") from error


def _limit(value: str | None) -> int:
    try:
        limit = int(value or 50)
    except ValueError as error:
        raise InvalidRequestError("limit must be an integer") from error
    if not 1 <= limit <= 200:
        raise InvalidRequestError("limit must be between 1 and 200")
    return limit


@endpoint(
    "GET",
    "/v1/admin/audit",
    "Page through security events (operators)",
    response=AuditPage,
    tag="operations",
)
async def audit(request: web.Request) -> web.Response:
    before, limit = _cursor(request.query.get("before")), _limit(request.query.get("limit"))
    entries, last = await request.app[operations_key].audit_page(caller(request), before, limit)
    return render(AuditPage(entries=[_entry(e) for e in entries], next_before=_next(last)))


def _entry(record: AuditRecord) -> AuditEntry:
    return AuditEntry(
        event_id=record.event_id,
        type=record.type,
        at=record.at,
        account_id=record.account_id,
        device_id=record.device_id,
        address=record.address,
        details=record.details,
    )


def _next(last: AuditRecord | None) -> str | None:
    """An opaque cursor: the last entry's time and id."""
    if last is None:
        return None
    raw = json.dumps([last.at.isoformat(), last.event_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@endpoint("GET", "/v1/openapi.json", "This API as OpenAPI 3.1", auth=False, tag="operations")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(build_openapi())


@endpoint("GET", "/v1/asyncapi.json", "The WebSocket as AsyncAPI 3.0", auth=False, tag="operations")
async def asyncapi(request: web.Request) -> web.Response:
    return web.json_response(build_asyncapi())
