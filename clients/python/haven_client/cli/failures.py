"""One calm line for each failure a person can act on, instead of a traceback."""

from __future__ import annotations

import aiohttp

from haven_client.cli import copy
from haven_client.errors import (
    Conflict,
    ConsentRequired,
    HavenApiError,
    HavenError,
    KeyChangeUnacknowledged,
    KeystoreInUse,
    NotLoggedIn,
    Paused,
    SessionExpired,
    Unauthorized,
    WrongPassphrase,
)


def explain(error: BaseException) -> tuple[str | None, int]:
    """(message, exit status); no message means the error is not ours to explain."""
    if isinstance(error, aiohttp.ClientConnectionError | ConnectionError):
        return copy.STACK_DOWN.format(url=_url(error)), 3
    if isinstance(error, SessionExpired):
        cause = error.__cause__
        detail = cause.detail if isinstance(cause, HavenApiError) else ""
        return (copy.EXPIRED if "expired" in detail.lower() else copy.REVOKED), 4
    if isinstance(error, Unauthorized):
        return copy.WRONG_PASSWORD, 4
    if isinstance(error, NotLoggedIn):
        return copy.NOT_SIGNED_IN, 4
    if isinstance(error, KeystoreInUse):
        return copy.KEYSTORE_IN_USE, 5
    if isinstance(error, WrongPassphrase):
        return copy.KEYSTORE_NOT_OPENED, 4
    if isinstance(error, HavenApiError):
        return f"{error.detail or error.code} ({error.code})", 2
    if isinstance(error, HavenError):
        return str(error), 1
    return None, 1


def _url(error: BaseException) -> str:
    key = getattr(error, "host", None)
    port = getattr(error, "port", None)
    return f"{key}:{port}" if key else "the configured address"


def not_sent(error: BaseException, who: str) -> str:
    """The one line for a send that did not go out: the catalogue's whole line, never the
    server's text wrapped in ours."""
    if isinstance(error, Paused):
        return copy.PAUSED_NOT_SENT
    if isinstance(error, ConsentRequired):
        return copy.AGREEMENT_NOT_SENT
    if isinstance(error, KeyChangeUnacknowledged):
        return copy.KEYS_NOT_SENT.format(name=who)
    if isinstance(error, Conflict) and error.code == "conflict":
        return copy.ENDED_NOT_SENT
    return copy.NOT_SENT
