"""What the views do not declare, for the OpenAPI document: the answers they render by hand,
their query strings, and the problem codes each operation answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from shared.availability_contracts import Away, Window
from shared.contracts import HistoryQuery
from shared.notify_contracts import PushSubscriptionReply


class DeleteAccepted(BaseModel):
    message_id: str
    status: Literal["accepted"]


class ReadAccepted(BaseModel):
    status: Literal["accepted"]


class AvailabilityAnswer(BaseModel):
    """A coach's availability (every field null while never set) and its state right now."""

    time_zone: str | None
    weekly: list[Window] | None
    response_time_hours: int | None
    away_message: str | None
    away: Away | None
    available_now: bool
    next_available_at: datetime | None


# What views render by hand: their answer's model, by (method, path).
ANSWERS: dict[tuple[str, str], type[BaseModel]] = {
    ("DELETE", "/v1/conversations/{conversation_id}/messages/{message_id}"): DeleteAccepted,
    ("POST", "/v1/conversations/{conversation_id}/read"): ReadAccepted,
    ("PUT", "/v1/devices/{device_id}/push"): PushSubscriptionReply,
    ("GET", "/v1/devices/{device_id}/push"): PushSubscriptionReply,
    ("PUT", "/v1/me/availability"): AvailabilityAnswer,
    ("GET", "/v1/accounts/{account_id}/availability"): AvailabilityAnswer,
}
DOCUMENT = {"type": "object", "description": "a JSON document (OpenAPI 3.1 or AsyncAPI 3.0)"}
# Operations whose body or answer is opaque bytes (an encrypted attachment), not JSON.
BLOB = {
    "type": "string",
    "format": "binary",
    "description": "an encrypted blob (docs/attachments.md)",
}
ATTACHMENT = "/v1/conversations/{conversation_id}/attachments"
BINARY_BODIES = {("POST", ATTACHMENT)}
BINARY_ANSWERS = {("GET", ATTACHMENT + "/{attachment_id}")}
RAW_ANSWERS = {("GET", "/v1/openapi.json"): DOCUMENT, ("GET", "/v1/asyncapi.json"): DOCUMENT}


def _integer(
    minimum: int, maximum: int | None = None, default: int | None = None
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    if default is not None:
        schema["default"] = default
    return schema


def _history_parameters() -> list[dict[str, Any]]:
    """after_seq, before_seq and limit as messaging's `HistoryQuery` bounds them."""
    notes = {
        "after_seq": "Messages after this seq, ascending (sync); the default, from 0.",
        "before_seq": "Messages before this seq, descending (scroll back); not with after_seq.",
        "limit": "Page size.",
    }
    props = HistoryQuery.model_json_schema()["properties"]
    out = []
    for name, description in notes.items():
        schema = {k: v for k, v in props[name].items() if k not in ("title", "anyOf")}
        schema |= next((s for s in props[name].get("anyOf", []) if s["type"] != "null"), {})
        schema.pop("default", None) if schema.get("default") is None else None
        out.append({"name": name, "in": "query", "description": description, "schema": schema})
    return out


PAGE = {"name": "limit", "in": "query", "schema": _integer(1, 200, 50)}
QUERIES: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("GET", "/v1/conversations/{conversation_id}/messages"): _history_parameters(),
    ("GET", "/v1/admin/audit"): [
        {"name": "before", "in": "query", "description": "`next_before` of the previous page",
         "schema": {"type": "string"}},
        PAGE,
    ],
    ("GET", "/v1/admin/accounts"): [
        {"name": "role", "in": "query",
         "schema": {"type": "string", "enum": ["client", "coach", "operator"]}},
        {"name": "after", "in": "query", "description": "`next_after` of the previous page",
         "schema": {"type": "string"}},
        PAGE,
    ],
}  # fmt: skip

# Problem codes an operation answers beyond those every operation of its kind answers.
CODES: dict[tuple[str, str], tuple[str, ...]] = {
    ("POST", "/v1/accounts"): ("invite_invalid", "conflict", "crisis_resources_missing"),
    ("POST", "/v1/sessions"): ("unauthorized", "bad_signature", "clock_skew", "device_limit"),
    ("POST", "/v1/sessions/refresh"): ("unauthorized",),
    ("PUT", "/v1/me/password"): ("rate_limited",),
    ("GET", "/v1/accounts/{account_id}/devices"): ("not_found",),
    ("GET", "/v1/devices/{device_id}"): ("not_found",),
    ("DELETE", "/v1/devices/{device_id}"): ("not_found", "rate_limited"),
    ("PUT", "/v1/devices/{device_id}/kx"): ("not_found", "forbidden", "bad_signature"),
    ("POST", "/v1/devices/{device_id}/panic"): ("not_found", "forbidden"),
    ("PUT", "/v1/me/backup"): ("bad_signature", "conflict"),
    ("GET", "/v1/me/backup"): ("not_found",),
    ("POST", "/v1/devices/{device_id}/link"): ("not_found", "forbidden"),
    ("DELETE", "/v1/me/links/{link_id}"): ("not_found",),
    ("POST", "/v1/admin/accounts/{account_id}/reset-code"): ("forbidden", "not_found"),
    ("POST", "/v1/password-resets"): ("reset_invalid",),
    ("POST", "/v1/invites"): ("forbidden", "crisis_resources_missing"),
    ("POST", "/v1/invites/accept"): (
        "invite_invalid", "forbidden", "conflict", "crisis_resources_missing",
    ),
    ("POST", "/v1/conversations/{conversation_id}/pause"): ("not_found", "forbidden", "conflict"),
    ("POST", "/v1/conversations/{conversation_id}/resume"): ("not_found", "forbidden", "conflict"),
    ("POST", "/v1/conversations/{conversation_id}/end"): ("not_found",),
    ("PUT", "/v1/conversations/{conversation_id}/settings"): ("not_found",),
    ("POST", "/v1/conversations/{conversation_id}/messages"): (
        "not_found", "forbidden", "consent_required", "conflict", "paused", "device_mismatch",
        "bad_signature",
    ),
    ("GET", "/v1/conversations/{conversation_id}/messages"): ("not_found",),
    ("DELETE", "/v1/conversations/{conversation_id}/messages/{message_id}"): (
        "not_found", "forbidden",
    ),
    ("POST", "/v1/conversations/{conversation_id}/read"): ("not_found",),
    ("PUT", "/v1/admin/agreement"): ("forbidden", "conflict"),
    ("GET", "/v1/agreement"): ("not_found",),
    ("POST", "/v1/agreement/accept"): ("not_found", "conflict"),
    ("PUT", "/v1/admin/crisis-resources"): ("forbidden",),
    ("GET", "/v1/admin/audit"): ("forbidden", "invalid_request"),
    ("GET", "/v1/admin/accounts"): ("forbidden", "invalid_request"),
    ("POST", "/v1/admin/accounts/{account_id}/deactivate"): ("forbidden", "not_found", "conflict"),
    ("PUT", "/v1/devices/{device_id}/push"): ("not_found",),
    ("GET", "/v1/devices/{device_id}/push"): ("not_found",),
    ("DELETE", "/v1/devices/{device_id}/push"): ("not_found",),
    ("PUT", "/v1/me/availability"): ("forbidden",),
    ("GET", "/v1/accounts/{account_id}/availability"): ("not_found",),
    ("POST", "/v1/me/delete"): ("unauthorized",),
    ("POST", ATTACHMENT): (
        "not_found", "consent_required", "conflict", "paused", "payload_too_large",
        "quota_exceeded", "length_required",
    ),
    ("GET", ATTACHMENT + "/{attachment_id}"): ("not_found",),
}  # fmt: skip
# Rate limited (HAVEN_RATE_*, or the login back-off) on top of what CODES says.
LIMITED = {
    ("POST", "/v1/accounts"),
    ("POST", "/v1/sessions"),
    ("POST", "/v1/invites"),
    ("PUT", "/v1/devices/{device_id}/kx"),
    ("PUT", "/v1/me/backup"),
    ("DELETE", "/v1/me/backup"),
    ("POST", "/v1/devices/{device_id}/link"),
    ("POST", "/v1/admin/accounts/{account_id}/reset-code"),
    ("POST", "/v1/password-resets"),
    ("POST", "/v1/conversations/{conversation_id}/messages"),
    ("PUT", "/v1/devices/{device_id}/push"),
    ("POST", ATTACHMENT),
}
# Their query parameters are checked by hand: 400 `invalid_request`, not 422.
BAD_QUERY = {("GET", "/v1/admin/audit"), ("GET", "/v1/admin/accounts")}
# Served from memory: no broker or database behind them, so never 503.
IN_MEMORY = {("GET", "/v1/openapi.json"), ("GET", "/v1/asyncapi.json"), ("GET", "/v1/keys")}
