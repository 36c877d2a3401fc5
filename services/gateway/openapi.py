"""OpenAPI 3.1, generated from the endpoint registry and the pydantic models we validate with;
what a view does not declare (its query string, the problems it answers) is in openapi_tables."""

from __future__ import annotations

import functools
import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from services.gateway.edge.http import ENDPOINTS, Endpoint
from services.gateway.edge.openapi_tables import (
    ANSWERS,
    BAD_QUERY,
    BINARY_ANSWERS,
    BINARY_BODIES,
    BLOB,
    CODES,
    IN_MEMORY,
    LIMITED,
    QUERIES,
    RAW_ANSWERS,
)
from services.gateway.edge.problems import ERROR_TABLE, HTTP_CODES

SCHEMAS = "#/components/schemas/"


def code_statuses() -> dict[str, int]:
    """Every problem `code` the gateway answers, with its HTTP status."""
    found = {code: status for status, code in ERROR_TABLE.values()}
    return {**{code: status for status, code in HTTP_CODES.items()}, **found} | {
        "invalid_request": 422,
        "internal_error": 500,
    }


def problem_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string", "enum": sorted(code_statuses())},
            "errors": {
                "type": "array",
                "description": "422 invalid_request: every offending field",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
            "retry_after": {"type": "integer"},
        },
        "additionalProperties": True,
        "description": "RFC 9457; some codes add fields (docs/api.md, Errors)",
    }


def codes_of(e: Endpoint) -> list[str]:
    """The problem codes one operation may answer."""
    key = (e.method, e.path)
    codes = {"unavailable"} if key not in IN_MEMORY else set()
    if e.auth:
        codes.add("unauthorized")
    if e.body is not None:
        codes |= {"invalid_request", "payload_too_large"}
    if key in QUERIES:  # history: 422 naming the parameter; operator pages: 400
        codes.add("invalid_request")
    if key in LIMITED:
        codes.add("rate_limited")
    return sorted(codes | set(CODES.get(key, ())))


def _problems(key: tuple[str, str], codes: list[str]) -> dict[str, Any]:
    status_of = code_statuses()
    by_status: dict[int, list[str]] = {}
    for code in codes:
        bad_query = code == "invalid_request" and key in BAD_QUERY
        status = 400 if bad_query else status_of[code]
        by_status.setdefault(status, []).append(code)
    out: dict[str, Any] = {}
    for status, listed in sorted(by_status.items()):
        answer: dict[str, Any] = {
            "description": ", ".join(listed),
            "content": {
                "application/problem+json": {
                    "schema": {
                        "allOf": [
                            {"$ref": f"{SCHEMAS}Problem"},
                            {"properties": {"code": {"enum": listed}}},
                        ]
                    }
                }
            },
        }
        if status in (429, 503):
            answer["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        out[str(status)] = answer
    return out


def _schema(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"{SCHEMAS}{model.__name__}"}


def _operation(e: Endpoint) -> dict[str, Any]:
    key = (e.method, e.path)
    operation: dict[str, Any] = {
        "summary": e.summary,
        "tags": [e.tag],
        "operationId": e.view.__name__,
    }
    params = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in re.findall(r"{(\w+)}", e.path)
    ] + QUERIES.get(key, [])
    if params:
        operation["parameters"] = params
    if key in BINARY_BODIES:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/octet-stream": {"schema": BLOB}},
        }
    if key in BINARY_BODIES:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/octet-stream": {"schema": BLOB}},
        }
    if e.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(e.body)}},
        }
    ok: dict[str, Any] = {"description": "success"}
    answer = e.response or ANSWERS.get(key)
    schema = _schema(answer) if answer is not None else RAW_ANSWERS.get(key)
    if schema is not None:
        ok["content"] = {"application/json": {"schema": schema}}
    if key in BINARY_ANSWERS:
        ok["content"] = {"application/octet-stream": {"schema": BLOB}}
        ok["description"] = "the blob, or 206 with Content-Range for a Range"
    operation["responses"] = {str(e.status): ok, **_problems(key, codes_of(e))}
    operation["responses"]["500"] = _internal()
    if e.auth:
        operation["security"] = [{"bearer": []}]
    return operation


def _internal() -> dict[str, Any]:
    return {
        "description": "internal_error: a failure the server did not expect (never bad input)",
        "content": {"application/problem+json": {"schema": {"$ref": f"{SCHEMAS}Problem"}}},
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _web_paths() -> dict[str, Any]:
    """Haven Web (services/gateway/edge/webapp.py): the bundle under /app/, its config."""
    moved = {"302": {"description": "Location: /app/"}}
    config = {
        "type": "object",
        "required": ["exit_url"],
        "properties": {"exit_url": {"type": "string"}},
    }
    file = {
        "200": {
            "description": "a file of the bundle (index.html for a route without a dot)",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
        **_problems(("GET", "/app/{tail}"), ["not_found", "unavailable"]),
    }
    return {
        "/": {"get": _plain("To Haven Web", "root", moved)},
        "/app": {"get": _plain("To Haven Web", "app", moved)},
        "/app/config.json": {
            "get": _plain(
                "What the operator set for Haven Web",
                "web_config",
                {"200": {"description": "never cached", "content": _json(config)}},
            )
        },
        "/app/{tail}": {
            "get": {
                **_plain("Haven Web's files, under a strict CSP", "web_file", file),
                "parameters": [
                    {"name": "tail", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
            }
        },
    }


def _plain(summary: str, operation_id: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": ["web"],
        "operationId": operation_id,
        "responses": responses,
    }


def _plain_paths() -> dict[str, Any]:
    """Served on the public port beside the registry: health, readiness, the WebSocket."""
    health = {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}
    ready = {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"enum": ["ready", "unavailable"]},
            "checks": {"type": "object", "additionalProperties": {"type": "boolean"}},
        },
    }
    return {
        "/healthz": {"get": {
            "summary": "The process runs", "tags": ["operations"], "operationId": "healthz",
            "responses": {"200": {"description": "running",
                                  "content": {"application/json": {"schema": health}}}},
        }},
        "/readyz": {"get": {
            "summary": "Start-up done, broker and database answering", "tags": ["operations"],
            "operationId": "readyz",
            "responses": {
                "200": {"description": "ready", "content": _json(ready)},
                "503": {"description": "not ready", "content": _json(ready)},
            },
        }},
        "/v1/ws": {"get": {
            "summary": "The WebSocket: frames, close codes and auth in GET /v1/asyncapi.json",
            "tags": ["messages"], "operationId": "websocket",
            "description": "Authorization: Bearer on the upgrade, or an `auth` frame within 10 s.",
            "responses": {
                "101": {"description": "switching protocols"},
                **_problems(("GET", "/v1/ws"), ["rate_limited"]),
            },
        }},
    }  # fmt: skip


@functools.cache
def build_openapi() -> dict[str, Any]:
    models = {m for e in ENDPOINTS for m in (e.body, e.response) if m is not None}
    models |= set(ANSWERS.values())
    _, defs = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template=SCHEMAS + "{model}",
    )
    paths: dict[str, dict[str, Any]] = {**_plain_paths(), **_web_paths()}
    for e in ENDPOINTS:
        paths.setdefault(e.path, {})[e.method.lower()] = _operation(e)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Haven gateway API",
            "version": "1",
            "description": "The prose contract is docs/api.md; the WebSocket is described as "
            "AsyncAPI 3.0 at /v1/asyncapi.json.",
        },
        "paths": paths,
        "components": {
            "schemas": {**defs.get("$defs", {}), "Problem": problem_schema()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
