"""Account notices by push: content-free, calm, one per device and event.

Unlike message pushes they do not wait in a (device, conversation) slot: there is nothing to
collapse (one per password reset, one per device's expiry period), so the job is queued at
once and is not deferred by quiet hours or a coach's availability. The body never holds message
content: the event, a date where it needs one, and the sentence a relay may show as it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

PASSWORD_RESET_TEXT = "Your password was changed. Sign in again with your new password."  # noqa: S105 - copy, not a password
DEVICE_EXPIRING_TEXT = (
    "This device will be signed out on {date} unless it is used. Open Haven before then to keep it."
)
# Linted with every client-facing catalogue (tests/unit/test_copy_catalogues.py).
CATALOGUE = {
    "password_reset": PASSWORD_RESET_TEXT,
    "device_expiring": DEVICE_EXPIRING_TEXT.format(date="4 March 2027"),
}
# Web Push `Topic` (RFC 8030): a newer notice of the same kind replaces an undelivered one.
PASSWORD_RESET_TOPIC = "account"  # noqa: S105 - a push topic
DEVICE_EXPIRING_TOPIC = "device"


def password_reset_body() -> dict[str, Any]:
    return {"event": "password_reset", "text": PASSWORD_RESET_TEXT}


def device_expiring_body(expires_at: datetime) -> dict[str, Any]:
    date = f"{expires_at.day} {expires_at:%B %Y}"  # "4 March 2027", in UTC
    return {
        "event": "device_expiring",
        "expires_at": expires_at.isoformat().replace("+00:00", "Z"),
        "text": DEVICE_EXPIRING_TEXT.format(date=date),
    }
