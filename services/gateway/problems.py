"""The one place where errors become application/problem+json (RFC 9457)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pydantic
import structlog
from aiohttp import web
from pymongo.errors import PyMongoError

from shared.errors import (
    ClockSkew,
    Conflict,
    DeviceLimit,
    DeviceMismatch,
    Forbidden,
    HavenError,
    InvalidRequest,
    InviteInvalid,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    SignatureInvalid,
    Unauthorized,
    Unavailable,
    Unavailable503,
    Unprocessable,
    Unroutable,
)
from shared.rpc import RpcError

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Domain error class → (HTTP status, stable code); resolved along the class's MRO.
ERROR_TABLE: dict[type[BaseException], tuple[int, str]] = {
    Unavailable: (503, "unavailable"),
    Unroutable: (503, "unavailable"),
    InvalidRequest: (400, "invalid_request"),
    InviteInvalid: (400, "invite_invalid"),
    Unauthorized: (401, "unauthorized"),
    Forbidden: (403, "forbidden"),
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
    DeviceLimit: (409, "device_limit"),
    DeviceMismatch: (409, "device_mismatch"),
    PayloadTooLarge: (413, "payload_too_large"),
    SignatureInvalid: (422, "bad_signature"),
    Unprocessable: (422, "invalid_request"),
    ClockSkew: (422, "clock_skew"),
    RateLimited: (429, "rate_limited"),
    Unavailable503: (503, "unavailable"),
}
HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


def problem(status: int, code: str, detail: str, **extra: Any) -> web.Response:
    body = {
        "type": f"https://haven.invalid/problems/{code}",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    response = web.Response(
        status=status, text=json.dumps(body), content_type="application/problem+json"
    )
    if status == 503:
        response.headers["Retry-After"] = "2"
    return response


def _lookup(error: BaseException) -> tuple[int, str] | None:
    for cls in type(error).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return None


def validation_problem(error: pydantic.ValidationError) -> web.Response:
    fields = [
        {"field": ".".join(str(p) for p in item["loc"]) or "body", "message": item["msg"]}
        for item in error.errors(include_url=False, include_input=False)
    ]
    names = ", ".join(sorted({f["field"] for f in fields}))
    return problem(422, "invalid_request", f"invalid fields: {names}", errors=fields)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except pydantic.ValidationError as error:
        return validation_problem(error)
    except RpcError as error:
        log.error("rpc_failed", code=error.code)
        if error.code == "invalid_request":
            return problem(400, "invalid_request", str(error))
        return problem(503, "unavailable", "a service behind the gateway failed; try again")
    except HavenError as error:
        mapped = _lookup(error)
        if mapped is None:
            raise
        status, code = mapped
        response = problem(status, code, str(error) or code, **getattr(error, "extra", {}))
        if isinstance(error, RateLimited):
            response.headers["Retry-After"] = str(error.retry_after)
        return response
    except PyMongoError as error:
        log.warning("database_unavailable", reason=type(error).__name__, path=request.path)
        return problem(503, "unavailable", "the database did not answer; try again")
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = HTTP_CODES.get(error.status, "invalid_request")
        detail = error.text if error.status == 413 else error.reason
        return problem(error.status, code, detail or error.reason)
    except Exception:
        log.exception("unhandled_error", path=request.path)
        return problem(500, "internal_error", "internal error")
