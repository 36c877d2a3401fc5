"""Operator views: the security audit log and the OpenAPI document."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from aiohttp import web

from services.gateway.http import caller, endpoint, gateway, render
from services.gateway.openapi import build_openapi
from services.gateway.schemas import AuditEntry, AuditPage
from shared.errors import Forbidden, InvalidRequest


def _cursor(value: str | None) -> tuple[datetime, str] | None:
    if not value:
        return None
    try:
        at, event_id = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        return datetime.fromisoformat(at), str(event_id)
    except (ValueError, TypeError) as error:
        raise InvalidRequest("before is not a cursor from a previous page") from error


def _limit(value: str | None) -> int:
    try:
        limit = int(value or 50)
    except ValueError as error:
        raise InvalidRequest("limit must be an integer") from error
    if not 1 <= limit <= 200:
        raise InvalidRequest("limit must be between 1 and 200")
    return limit


@endpoint(
    "GET",
    "/v1/admin/audit",
    "Page through security events (operators)",
    response=AuditPage,
    tag="operations",
)
async def audit(request: web.Request) -> web.Response:
    if caller(request).role != "operator":
        raise Forbidden("operators only")
    before, limit = _cursor(request.query.get("before")), _limit(request.query.get("limit"))
    docs = await gateway(request).audit_log.page(before, limit + 1)
    entries = [
        AuditEntry(
            event_id=d["_id"],
            type=d["type"],
            at=d["at"],
            account_id=d.get("account_id"),
            device_id=d.get("device_id"),
            address=d.get("address"),
            details=d.get("details") or {},
        )
        for d in docs[:limit]
    ]
    next_before = None
    if len(docs) > limit:
        last = docs[limit - 1]
        raw = json.dumps([last["at"].isoformat(), last["_id"]]).encode()
        next_before = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return render(AuditPage(entries=entries, next_before=next_before))


@endpoint("GET", "/v1/openapi.json", "This API as OpenAPI 3.1", auth=False, tag="operations")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(build_openapi())
