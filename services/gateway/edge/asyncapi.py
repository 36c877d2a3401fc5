"""AsyncAPI 3.0 for `GET /v1/ws`: the frames both ways, how a socket authenticates, the close
codes. Served at `GET /v1/asyncapi.json` beside the OpenAPI document; docs/api.md is its prose."""

from __future__ import annotations

import functools
from typing import Any

from pydantic.json_schema import models_json_schema

from shared.wire import MessageItem, WireEnvelope

SCHEMAS = "#/components/schemas/"
STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
SEQ = {"type": "integer", "minimum": 0}
CRISIS = {
    "type": "array",
    "description": "On every answer to an urgent envelope",
    "items": {"type": "object", "additionalProperties": {"type": "string"}},
}

CLOSE_CODES = {
    "1001": "Missed pongs: reconnect.",
    "1012": "The server is restarting: reconnect with back-off.",
    "1013": "The client reads too slowly, or deliveries could not be bound: reconnect, sync.",
    "4401": "Not authenticated, token expired, re-authentication failed, or a login resumed "
    "this device: refresh the token and reconnect.",
    "4403": "The device was revoked or logged out (or its account's password was reset): do "
    "not reconnect.",
    "4409": "Replaced by a newer socket of the same device.",
    "4429": "Kept exceeding the frame budget after rate_limited errors: wait, then reconnect.",
}


def _frame(
    kind: str, summary: str, required: dict[str, Any], optional: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A message object whose payload is a JSON object with `type: kind`."""
    properties = {"type": {"const": kind}, **required, **(optional or {})}
    return {
        "name": kind,
        "title": kind,
        "summary": summary,
        "contentType": "application/json",
        "payload": {
            "type": "object",
            "required": ["type", *required],
            "properties": properties,
        },
    }


SERVER_FRAMES = {
    "ready": _frame("ready", "First frame, once deliveries are bound: sync after it.", {}),
    "message": _frame(
        "message",
        "A new message; answer `ack` once stored (10 s, else it counts as failed: push).",
        {"message": {"$ref": f"{SCHEMAS}MessageItem"}},
    ),
    "message_deleted": _frame(
        "message_deleted",
        "A message was deleted for everyone.",
        {"conversation_id": STRING, "message_id": STRING, "seq": SEQ},
    ),
    "message_rejected": _frame(
        "message_rejected",
        "An accepted message could not be stored.",
        {
            "conversation_id": STRING,
            "message_id": STRING,
            "code": {"enum": ["conflict", "invalid_request", "account_deleted", "internal"]},
            "detail": STRING,
        },
    ),
    "read": _frame(
        "read",
        "A read marker moved (yours, or a counterpart's who shares read receipts).",
        {"conversation_id": STRING, "account_id": STRING, "up_to_seq": SEQ},
    ),
    "devices_changed": _frame(
        "devices_changed", "That account's device set changed.", {"account_id": STRING}
    ),
    "link": _frame(
        "link",
        "Another device of your account sent this device a secret boxed to its kx key "
        "(GET /v1/me/links lists it too); acknowledge with DELETE /v1/me/links/{link_id}.",
        {
            "link_id": STRING,
            "sender_device_id": STRING,
            "ciphertext": {"type": "string", "contentEncoding": "base64url"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    ),
    "account": _frame(
        "account",
        "Something happened to an account (`account_id`: yours or a counterpart's); "
        "`password_reset`: its password was reset and every session of it ended.",
        {"event": {"enum": ["password_reset"]}, "account_id": STRING},
    ),
    "device_expiring": _frame(
        "device_expiring",
        "This device will be signed out at `expires_at` unless it is used before.",
        {"device_id": STRING, "expires_at": {"type": "string", "format": "date-time"}},
    ),
    "relationship": _frame(
        "relationship",
        "Paused, resumed or ended.",
        {
            "conversation_id": STRING,
            "status": {"enum": ["active", "paused", "ended"]},
            "reason": NULLABLE_STRING,
            "resume_on": NULLABLE_STRING,
        },
    ),
    "retention": _frame(
        "retention",
        "The effective retention changed.",
        {"conversation_id": STRING, "retention_days": {"type": ["integer", "null"]}},
    ),
    "coach_away": _frame(
        "coach_away",
        "The coach is outside hours or away.",
        {
            "conversation_id": STRING,
            "away_message": STRING,
            "response_time_hours": {"type": "integer"},
            "next_available_at": {"type": ["string", "null"], "format": "date-time"},
        },
        {"backup_contact": STRING},
    ),
    "urgent_attempt": _frame(
        "urgent_attempt",
        "To a coach who chose it: a client tried an urgent send while paused (no content).",
        {"conversation_id": STRING},
    ),
    "resync": _frame("resync", "Deliveries were lost: sync every conversation.", {}),
    "pong": _frame("pong", "The answer to `ping`.", {}),
    "accepted": _frame(
        "accepted",
        "A `send` was durably queued.",
        {"message_id": STRING},
        {"crisis_resources": CRISIS},
    ),
    "error": _frame(
        "error",
        "A refused `send` (the HTTP problem's code and extra fields) or a bad frame.",
        {"code": STRING, "detail": STRING},
        {
            "message_id": NULLABLE_STRING,
            "retry_after": {"type": "integer"},
            "errors": {"type": "array", "items": {"type": "object"}},
            "missing_devices": {"type": "array", "items": STRING},
            "extra_devices": {"type": "array", "items": STRING},
            "crisis_resources": CRISIS,
        },
    ),
}
CLIENT_FRAMES = {
    "auth": _frame(
        "auth",
        "Authenticate (first frame, within 10 s) or renew the token on an open socket.",
        {"access_token": STRING},
    ),
    "send": _frame(
        "send",
        "Send a sealed message; answered by `accepted` or `error`.",
        {"conversation_id": STRING, "envelope": {"$ref": f"{SCHEMAS}WireEnvelope"}},
    ),
    "ack": _frame("ack", "A `message` frame was stored by the device.", {"message_id": STRING}),
    "ping": _frame("ping", "Answered by `pong`.", {}),
}


def _refs(names: list[str]) -> list[dict[str, str]]:
    return [{"$ref": f"#/channels/socket/messages/{name}"} for name in names]


def _operations() -> dict[str, Any]:
    channel = {"$ref": "#/channels/socket"}
    server = [n for n in SERVER_FRAMES if n not in ("accepted", "error", "pong")]
    return {
        "deliver": {
            "action": "send",
            "channel": channel,
            "summary": "Frames the gateway pushes to a device.",
            "messages": _refs(server),
        },
        "sendMessage": {
            "action": "receive",
            "channel": channel,
            "summary": "A device sends a sealed message.",
            "messages": _refs(["send"]),
            "reply": {"channel": channel, "messages": _refs(["accepted", "error"])},
        },
        "ping": {
            "action": "receive",
            "channel": channel,
            "messages": _refs(["ping"]),
            "reply": {"channel": channel, "messages": _refs(["pong"])},
        },
        "authenticate": {
            "action": "receive",
            "channel": channel,
            "summary": "A token for a socket without the Authorization header, or a fresh one.",
            "messages": _refs(["auth"]),
        },
        "acknowledge": {
            "action": "receive",
            "channel": channel,
            "messages": _refs(["ack"]),
        },
    }


@functools.cache
def build_asyncapi() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(MessageItem, "serialization"), (WireEnvelope, "validation")],
        ref_template=SCHEMAS + "{model}",
    )
    messages = {**SERVER_FRAMES, **CLIENT_FRAMES}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Haven gateway WebSocket",
            "version": "1",
            "description": "One socket per device at GET /v1/ws. JSON text frames (at most "
            "256 KiB), each an object with a string `type`. The server pings every 20 s. "
            "Prose: docs/api.md; HTTP: /v1/openapi.json.",
        },
        "servers": {
            "gateway": {
                "host": "{host}",
                "protocol": "wss",
                "pathname": "/v1/ws",
                "variables": {"host": {"default": "localhost:8080"}},
                "security": [{"$ref": "#/components/securitySchemes/bearer"}],
            }
        },
        "channels": {
            "socket": {
                "address": "/v1/ws",
                "title": "A device's socket",
                "description": "Close codes are listed in x-close-codes.",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "headers": {
                            "type": "object",
                            "properties": {"Authorization": {"type": "string"}},
                        },
                    }
                },
                "x-close-codes": CLOSE_CODES,
            }
        },
        "operations": _operations(),
        "components": {
            "schemas": defs.get("$defs", {}),
            "messages": messages,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An access token on the upgrade, or in an `auth` frame.",
                }
            },
        },
    }
