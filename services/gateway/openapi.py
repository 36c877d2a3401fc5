"""OpenAPI 3.1, generated from the endpoint registry and the pydantic models we validate with."""

from __future__ import annotations

import functools
import re
from typing import Any

from pydantic.json_schema import models_json_schema

from services.gateway.edge.http import ENDPOINTS

PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
    "additionalProperties": True,
}


@functools.cache
def build_openapi() -> dict[str, Any]:
    models = {m for e in ENDPOINTS for m in (e.body, e.response) if m is not None}
    refs, defs = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for e in ENDPOINTS:
        operation: dict[str, Any] = {
            "summary": e.summary,
            "tags": [e.tag],
            "operationId": e.view.__name__,
            "responses": {
                "default": {
                    "description": "problem",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                }
            },
        }
        params = re.findall(r"{(\w+)}", e.path)
        if params:
            operation["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in params
            ]
        if e.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(e.body, "validation")]}},
            }
        ok: dict[str, Any] = {"description": "success"}
        if e.response is not None:
            ok["content"] = {"application/json": {"schema": refs[(e.response, "validation")]}}
        operation["responses"][str(e.status)] = ok
        if e.auth:
            operation["security"] = [{"bearer": []}]
        paths.setdefault(e.path, {})[e.method.lower()] = operation
    schemas = {**defs.get("$defs", {}), "Problem": PROBLEM}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Haven gateway API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
