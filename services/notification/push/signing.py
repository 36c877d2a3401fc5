"""What a push gateway receives: the body by `notification_detail`, and the signed headers.

API.md "Push": `X-Haven-Timestamp: <unix seconds>`, `X-Haven-Delivery: <id, the same across
retries>`, `X-Haven-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>` (the
contract, unchanged for existing relays), and in addition `X-Haven-Delivery-Signature:
sha256=<hex HMAC-SHA256(secret, timestamp + "." + delivery + "." + body)>`: a relay dedupes on the
delivery id, so a captured push replayed under a fresh id must not verify — relays check this one.
The body never holds message content: at most the conversation id, an unread count, the
sender's display name (only with `sender`) and `"urgent": true`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from shared.notify_contracts import NotificationDetail

TIMESTAMP = "X-Haven-Timestamp"
DELIVERY = "X-Haven-Delivery"
SIGNATURE = "X-Haven-Signature"
DELIVERY_SIGNATURE = "X-Haven-Delivery-Signature"
DEFAULT_TOLERANCE = 300


def push_body(
    detail: NotificationDetail,
    conversation_id: str,
    unread: int,
    *,
    urgent: bool = False,
    sender_display_name: str | None = None,
) -> dict[str, Any]:
    if detail == "none":
        return {"event": "sync"}
    body: dict[str, Any] = {
        "event": "new_message",
        "conversation_id": conversation_id,
        "unread": unread,
    }
    if detail == "sender" and sender_display_name:
        body["sender_display_name"] = sender_display_name
    if urgent:
        body["urgent"] = True
    return body


def encode_body(body: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed: compact JSON, UTF-8."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _mac(secret: str, signed: bytes) -> str:
    return f"sha256={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def signature(secret: str, timestamp: str, delivery_id: str, body: bytes) -> str:
    """The delivery signature: timestamp, delivery id and body."""
    return _mac(secret, f"{timestamp}.{delivery_id}.".encode() + body)


def contract_signature(secret: str, timestamp: str, body: bytes) -> str:
    """API.md's `X-Haven-Signature`: timestamp and body."""
    return _mac(secret, f"{timestamp}.".encode() + body)


def signed_headers(secret: str, delivery_id: str, body: bytes, now: float) -> dict[str, str]:
    timestamp = str(int(now))
    return {
        "Content-Type": "application/json",
        TIMESTAMP: timestamp,
        DELIVERY: delivery_id,
        SIGNATURE: contract_signature(secret, timestamp, body),
        DELIVERY_SIGNATURE: signature(secret, timestamp, delivery_id, body),
    }


def verify(
    secret: str,
    headers: dict[str, str],
    body: bytes,
    *,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """What a push relay checks (docs/integrators.md): the signature over the timestamp, the
    delivery id and the raw body, and a timestamp within `tolerance` seconds, so a captured
    push cannot be replayed later, nor under another delivery id."""
    timestamp = headers.get(TIMESTAMP, "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    expected = signature(secret, timestamp, headers.get(DELIVERY, ""), body)
    return hmac.compare_digest(expected, headers.get(DELIVERY_SIGNATURE, ""))
