"""One calm line for each failure a person can act on, instead of a traceback."""

from __future__ import annotations

import aiohttp

from haven_client.errors import (
    HavenApiError,
    HavenError,
    KeystoreInUse,
    NotLoggedIn,
    SessionExpired,
    Unauthorized,
    WrongPassphrase,
)

REVOKED = (
    "this device's session has ended: it was signed out or revoked (from another device or "
    "by an operator). Run `haven login` to sign in again."
)
EXPIRED = "your session expired. Run `haven login` to sign in again."
WRONG_PASSWORD = "wrong handle or password."  # noqa: S105  (a message, not a password)
STACK_DOWN = (
    "cannot reach the Haven server at {url}: is it running (`make up`), and is the URL right?"
)


def explain(error: BaseException) -> tuple[str | None, int]:
    """(message, exit status); no message means the error is not ours to explain."""
    if isinstance(error, aiohttp.ClientConnectionError | ConnectionError):
        return STACK_DOWN.format(url=_url(error)), 3
    if isinstance(error, SessionExpired):
        cause = error.__cause__
        detail = cause.detail if isinstance(cause, HavenApiError) else ""
        return (EXPIRED if "expired" in detail else REVOKED), 4
    if isinstance(error, Unauthorized):
        return WRONG_PASSWORD, 4
    if isinstance(error, NotLoggedIn):
        return "not signed in on this device. Run `haven login` first.", 4
    if isinstance(error, KeystoreInUse):
        return (
            "this device's keystore is open in another haven process (a `haven chat`?). "
            "Send from that chat, or close it first.",
            5,
        )
    if isinstance(error, WrongPassphrase):
        return "wrong keystore passphrase.", 4
    if isinstance(error, HavenApiError):
        return f"{error.detail or error.code} ({error.code})", 2
    if isinstance(error, HavenError):
        return str(error), 1
    return None, 1


def _url(error: BaseException) -> str:
    key = getattr(error, "host", None)
    port = getattr(error, "port", None)
    return f"{key}:{port}" if key else "the configured address"
