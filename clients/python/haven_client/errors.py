"""Typed exceptions of the SDK: API problems keep their stable ``code``, local failures their cause.

Apps branch on classes (``except DeviceMismatch``) or on ``code``; the problem+json
body is kept whole in ``extra`` so fields added by newer gateways are not lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from haven_client import copy


class HavenError(Exception):
    """Base of everything the SDK raises on purpose."""


class HavenApiError(HavenError):
    """A problem+json answer from the gateway (RFC 9457) with its stable ``code``."""

    def __init__(
        self, status: int, code: str, detail: str = "", extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {detail}" if detail else f"{status} {code}")
        self.status = status
        self.code = code
        self.detail = detail
        self.extra: dict[str, Any] = dict(extra or {})

    @property
    def crisis_resources(self) -> list[dict[str, Any]]:
        """Every answer to an urgent send carries these, errors included (API.md)."""
        value = self.extra.get("crisis_resources")
        return list(value) if isinstance(value, list) else []


class Unauthorized(HavenApiError):
    """401: bad credentials, or a session that can no longer be refreshed."""


class Forbidden(HavenApiError):
    """403: authenticated, but not allowed."""


class NotFound(HavenApiError):
    """404: absent, or not visible to this account (the gateway does not say which)."""


class Conflict(HavenApiError):
    """409 ``conflict``: e.g. an ended conversation or a taken handle."""


class DeviceMismatch(HavenApiError):
    """409 ``device_mismatch``: the envelope's ``keys`` did not name exactly the active devices."""

    @property
    def missing_devices(self) -> list[str]:
        return _strings(self.extra.get("missing_devices"))

    @property
    def extra_devices(self) -> list[str]:
        return _strings(self.extra.get("extra_devices"))


class DeviceLimit(HavenApiError):
    """409 ``device_limit``: log in with ``replace_device_id`` to retire an old device."""


class BadSignatureError(HavenApiError):
    """422 ``bad_signature``: the gateway refused a signature (or a revoked identity key)."""


class ClockSkew(HavenApiError):
    """422 ``clock_skew``: the device clock is too far from ``server_time``."""

    @property
    def server_time(self) -> int | None:
        value = self.extra.get("server_time")
        return value if isinstance(value, int) and not isinstance(value, bool) else None


class InvalidRequest(HavenApiError):
    """422 ``invalid_request`` (or another validation code): names the offending fields."""


class InviteInvalid(HavenApiError):
    """400 ``invite_invalid``: bad, used or expired invite."""


class PayloadTooLarge(HavenApiError):
    """413 ``payload_too_large``."""


class RetryLater(HavenApiError):
    """429 or 503: come back after ``retry_after`` seconds."""

    @property
    def retry_after(self) -> float | None:
        value = self.extra.get("retry_after")
        return float(value) if isinstance(value, int | float) else None


class RateLimited(RetryLater):
    """429 ``rate_limited``."""

    notice = copy.SENDING_SHORTLY


class Unavailable(RetryLater):
    """503 ``unavailable``: nothing was queued; sending the same envelope again is safe."""


class Paused(Conflict):
    """409 ``paused``: the coach paused the conversation; reading stays, sending waits."""

    notice = copy.PAUSED

    @property
    def reason(self) -> str | None:
        value = self.extra.get("reason")
        return value if isinstance(value, str) else None

    @property
    def resume_on(self) -> str | None:
        value = self.extra.get("resume_on")
        return value if isinstance(value, str) else None

    @property
    def coach_notified(self) -> bool:
        """An urgent attempt: True when the coach chose to be told of it (without its words)."""
        return self.extra.get("coach_notified") is True


class ConsentRequired(Forbidden):
    """403 ``consent_required``: accept the current messaging agreement (``version``) first."""

    notice = copy.CONSENT_REQUIRED

    @property
    def version(self) -> str | None:
        value = self.extra.get("version")
        return value if isinstance(value, str) else None


class CrisisResourcesMissing(Conflict):
    """409 ``crisis_resources_missing``: the operator has not set crisis resources yet."""


_BY_CODE: dict[str, type[HavenApiError]] = {
    "unauthorized": Unauthorized,
    "forbidden": Forbidden,
    "not_found": NotFound,
    "conflict": Conflict,
    "paused": Paused,
    "consent_required": ConsentRequired,
    "crisis_resources_missing": CrisisResourcesMissing,
    "device_mismatch": DeviceMismatch,
    "device_limit": DeviceLimit,
    "bad_signature": BadSignatureError,
    "clock_skew": ClockSkew,
    "invalid_request": InvalidRequest,
    "invite_invalid": InviteInvalid,
    "payload_too_large": PayloadTooLarge,
    "rate_limited": RateLimited,
    "unavailable": Unavailable,
}
_BY_STATUS: dict[int, type[HavenApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidRequest,
    429: RateLimited,
    503: Unavailable,
}


def api_error(status: int, body: Mapping[str, Any]) -> HavenApiError:
    """Build the most specific class for a problem body; the code wins over the status."""
    code = body.get("code")
    code = code if isinstance(code, str) and code else f"http_{status}"
    detail = body.get("detail")
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status) or HavenApiError
    return cls(status, code, detail if isinstance(detail, str) else "", body)


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


class SessionExpired(HavenError):
    """The refresh token was refused: the app must log in again (the device keys stay)."""


class NotLoggedIn(HavenError):
    """A call that needs a session was made before ``login``."""


class KeystoreError(HavenError):
    """The keystore file is missing, corrupt, or not a Haven keystore."""


class KeystoreInUse(KeystoreError):
    """Another process has this keystore open; sharing it would corrupt the session."""


class WrongPassphrase(KeystoreError):
    """The passphrase does not open the keystore (or the file was tampered with)."""


class InsecureTransport(HavenError):
    """The server URL would send passwords and tokens without TLS (see ``check_server_url``)."""


class UntrustedDevice(HavenError):
    """A device's keys cannot be trusted (bad ``kx_signature``, low-order key, wrong account)."""

    def __init__(self, device_id: str, reason: str) -> None:
        super().__init__(f"device {device_id}: {reason}")
        self.device_id = device_id
        self.reason = reason


class KeyChangeUnacknowledged(HavenError):
    """Sending is held back until the user acknowledges a counterpart's key change."""

    def __init__(self, account_ids: list[str]) -> None:
        super().__init__(f"key change not acknowledged for accounts {account_ids}")
        self.account_ids = account_ids


class UnknownConversation(HavenError):
    """The conversation id is not one of this account's conversations."""


class InvalidSetting(HavenError, ValueError):
    """A value the SDK refuses before sending it: an unknown time zone, a push URL that
    carries credentials, a push secret of the wrong length."""


class NoCoach(HavenError):
    """The conversation has no coach other than the caller: there is no reply to expect."""
