"""The one place where errors become application/problem+json (RFC 9457)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pydantic
import structlog
from aiohttp import web
from pymongo.errors import PyMongoError

from services.gateway import copy
from shared.errors import (
    ClockSkewError,
    ConflictError,
    ConsentRequiredError,
    CrisisResourcesMissingError,
    DeviceLimitError,
    DeviceMismatchError,
    ForbiddenError,
    HavenError,
    InvalidRequestError,
    InviteInvalidError,
    NotFoundError,
    PausedError,
    PayloadTooLargeError,
    QuotaExceededError,
    RateLimitedError,
    ResetInvalidError,
    ServiceUnavailableError,
    SignatureInvalidError,
    UnauthorizedError,
    UnavailableError,
    UnprocessableError,
    UnroutableError,
    field_errors,
)
from shared.rpc import INVALID_FIELD, RpcError

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Domain error class → (HTTP status, stable code); resolved along the class's MRO.
ERROR_TABLE: dict[type[BaseException], tuple[int, str]] = {
    UnavailableError: (503, "unavailable"),
    UnroutableError: (503, "unavailable"),
    InvalidRequestError: (400, "invalid_request"),
    InviteInvalidError: (400, "invite_invalid"),
    ResetInvalidError: (400, "reset_invalid"),
    UnauthorizedError: (401, "unauthorized"),
    ForbiddenError: (403, "forbidden"),
    NotFoundError: (404, "not_found"),
    ConflictError: (409, "conflict"),
    PausedError: (409, "paused"),
    CrisisResourcesMissingError: (409, "crisis_resources_missing"),
    ConsentRequiredError: (403, "consent_required"),
    DeviceLimitError: (409, "device_limit"),
    DeviceMismatchError: (409, "device_mismatch"),
    PayloadTooLargeError: (413, "payload_too_large"),
    QuotaExceededError: (413, "quota_exceeded"),
    SignatureInvalidError: (422, "bad_signature"),
    UnprocessableError: (422, "invalid_request"),
    ClockSkewError: (422, "clock_skew"),
    RateLimitedError: (429, "rate_limited"),
    ServiceUnavailableError: (503, "unavailable"),
}
HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


def problem(status: int, code: str, detail: str, **extra: Any) -> web.Response:
    body = {
        "type": f"https://haven.invalid/problems/{code}",
        "title": copy.title(code),
        "status": status,
        "detail": copy.detail(code, detail),
        "code": code,
        **extra,
    }
    response = web.Response(
        status=status, text=json.dumps(body), content_type="application/problem+json"
    )
    if status == 503:
        response.headers["Retry-After"] = "2"
    return response


@dataclass(frozen=True)
class Problem:
    """What one error means to a client, over HTTP and over the WebSocket alike."""

    status: int
    code: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)
    retry_after: int | None = None

    def fields(self) -> dict[str, Any]:
        """The WebSocket `error` frame's fields (`retry_after` in the frame, not a header)."""
        out = {"code": self.code, "detail": copy.detail(self.code, self.detail), **self.extra}
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        return out

    def response(self) -> web.Response:
        response = problem(self.status, self.code, self.detail, **self.extra)
        if self.retry_after is not None:
            response.headers["Retry-After"] = str(self.retry_after)
        return response


def _lookup(error: BaseException) -> tuple[int, str] | None:
    for cls in type(error).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return None


def describe(error: BaseException) -> Problem:
    """The one mapping from any error to its answer; unknown errors are logged, never shown."""
    if isinstance(error, pydantic.ValidationError):
        fields = [{"field": name, "message": text} for name, text in field_errors(error)]
        names = ", ".join(sorted({f["field"] for f in fields}))
        text = copy.FIELDS_NEED_CHANGE.format(fields=names)
        return Problem(422, "invalid_request", text, {"errors": fields})
    if isinstance(error, RpcError):
        return _rpc_problem(error)
    mapped = _lookup(error) if isinstance(error, HavenError) else None
    if mapped is not None:
        status, code = mapped
        retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
        extra = dict(getattr(error, "extra", {}))
        return Problem(status, code, str(error) or code, extra, retry_after)
    if isinstance(error, PyMongoError):
        log.warning("database_unavailable", reason=type(error).__name__)
        return Problem(503, "unavailable", "the database did not answer")
    log.error("unhandled_error", exc_info=error)
    return Problem(500, "internal_error", copy.SOMETHING_WENT_WRONG)


def _rpc_problem(error: RpcError) -> Problem:
    """A service behind the gateway refused: its stable code decides the answer."""
    if error.code == INVALID_FIELD:
        message = error.reason or "not acceptable"
        errors = [{"field": name, "message": message} for name in error.fields]
        text = copy.FIELDS_NEED_CHANGE.format(fields=", ".join(error.fields))
        return Problem(422, "invalid_request", text, {"errors": errors})
    if error.code == "not_found":
        return Problem(404, "not_found", "not found")
    if error.code == "invalid_request":
        return Problem(400, "invalid_request", str(error))
    log.error("rpc_failed", code=error.code)
    return Problem(503, "unavailable", "a service behind the gateway did not answer")


def error_fields(error: BaseException) -> dict[str, Any]:
    return describe(error).fields()


KEPT_HEADERS = ("Content-Range", "Allow", "Retry-After")


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = HTTP_CODES.get(error.status, "invalid_request")
        detail = error.text if error.status == 413 else error.reason
        answer = problem(error.status, code, detail or error.reason)
        for name in KEPT_HEADERS:  # what the status means needs them (a 416's Content-Range)
            if name in error.headers:
                answer.headers[name] = error.headers[name]
        return answer
    except Exception as error:
        return describe(error).response()
