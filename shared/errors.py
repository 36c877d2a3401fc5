"""Domain errors shared by services; they know nothing of HTTP or AMQP."""

from __future__ import annotations


class HavenError(Exception):
    """Base of every error the services raise on purpose."""


class Unavailable(HavenError):
    """A dependency (broker, database, another service) did not answer in time."""


class Unroutable(HavenError):
    """The broker accepted a mandatory message but no queue was bound for it."""


class PermanentFailure(HavenError):
    """A message can never be processed (malformed, invalid): dead-letter it."""


class TransientFailure(HavenError):
    """Processing failed for a reason that passes (database down): retry, never dead-letter."""


class ApiError(HavenError):
    """An error with a stable snake_case code and optional extra fields for the client."""

    code = "invalid_request"

    def __init__(self, detail: str = "", **extra: object) -> None:
        super().__init__(detail or self.code.replace("_", " "))
        self.extra = extra


class InvalidRequest(ApiError):
    code = "invalid_request"


class Unauthorized(ApiError):
    code = "unauthorized"


class Forbidden(ApiError):
    code = "forbidden"


class NotFound(ApiError):
    code = "not_found"


class Conflict(ApiError):
    code = "conflict"


class DeviceLimit(ApiError):
    code = "device_limit"


class DeviceMismatch(ApiError):
    code = "device_mismatch"


class SignatureInvalid(ApiError):
    code = "bad_signature"


class ClockSkew(ApiError):
    code = "clock_skew"


class PayloadTooLarge(ApiError):
    code = "payload_too_large"


class RateLimited(ApiError):
    code = "rate_limited"

    def __init__(self, retry_after: int, detail: str = "too many attempts") -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class InviteInvalid(ApiError):
    code = "invite_invalid"


class Unprocessable(ApiError):
    """422: well-formed JSON whose content is invalid; names the offending field."""

    code = "invalid_request"

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail, errors=[{"field": field, "message": detail}])


class InvalidKey(Unprocessable):
    """A public key that cannot be used (wrong size, low-order X25519 point)."""


class Unavailable503(ApiError):
    """503 `unavailable` that can carry extra fields (crisis resources on an urgent send)."""

    code = "unavailable"
