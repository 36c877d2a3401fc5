"""Domain errors shared by services (they know nothing of HTTP or AMQP), and what a failed
validation says about its fields."""

from __future__ import annotations

import pydantic


def field_errors(error: pydantic.ValidationError) -> list[tuple[str, str]]:
    """Each failing field's dotted path ("body" for the whole) and pydantic's message; never
    the input, which may hold values the logs and answers must not echo."""
    return [
        (".".join(str(p) for p in item["loc"]) or "body", item["msg"])
        for item in error.errors(include_url=False, include_input=False)
    ]


def field_names(error: pydantic.ValidationError) -> list[str]:
    """The failing fields, sorted, each once."""
    return sorted({name for name, _ in field_errors(error)})


class HavenError(Exception):
    """Base of every error the services raise on purpose."""


class UnavailableError(HavenError):
    """A dependency (broker, database, another service) did not answer in time."""


class UnroutableError(HavenError):
    """The broker accepted a mandatory message but no queue was bound for it."""


class PermanentError(HavenError):
    """A message can never be processed (malformed, invalid): dead-letter it."""


class TransientError(HavenError):
    """Processing failed for a reason that passes (database down): retry, never dead-letter."""


class ApiError(HavenError):
    """An error with a stable snake_case code and optional extra fields for the client."""

    code = "invalid_request"

    def __init__(self, detail: str = "", **extra: object) -> None:
        super().__init__(detail or self.code.replace("_", " "))
        self.extra = extra


class InvalidRequestError(ApiError):
    code = "invalid_request"


class UnauthorizedError(ApiError):
    code = "unauthorized"


class ForbiddenError(ApiError):
    code = "forbidden"


class NotFoundError(ApiError):
    code = "not_found"


class ConflictError(ApiError):
    code = "conflict"


class DeviceLimitError(ApiError):
    code = "device_limit"


class DeviceMismatchError(ApiError):
    code = "device_mismatch"


class SignatureInvalidError(ApiError):
    code = "bad_signature"


class ClockSkewError(ApiError):
    code = "clock_skew"


class PayloadTooLargeError(ApiError):
    code = "payload_too_large"


class QuotaExceededError(PayloadTooLargeError):
    code = "quota_exceeded"


class RateLimitedError(ApiError):
    code = "rate_limited"

    def __init__(self, retry_after: int, detail: str = "too many attempts") -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class InviteInvalidError(ApiError):
    code = "invite_invalid"


class ResetInvalidError(ApiError):
    """400: a password reset code that is wrong, used or expired (or a handle it is not for)."""

    code = "reset_invalid"


class UnprocessableError(ApiError):
    """422: well-formed JSON whose content is invalid; names the offending field."""

    code = "invalid_request"

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail, errors=[{"field": field, "message": detail}])


class InvalidKeyError(UnprocessableError):
    """A public key that cannot be used (wrong size, low-order X25519 point)."""


class ServiceUnavailableError(ApiError):
    """503 `unavailable` that can carry extra fields (crisis resources on an urgent send)."""

    code = "unavailable"


class PausedError(ApiError):
    """409: the coach paused the relationship; carries `reason` and `resume_on`."""

    code = "paused"


class ConsentRequiredError(ApiError):
    """403: a client has not accepted the current messaging agreement; carries `version`."""

    code = "consent_required"


class CrisisResourcesMissingError(ApiError):
    """409: no crisis resources are set, so the deployment cannot take clients yet."""

    code = "crisis_resources_missing"
