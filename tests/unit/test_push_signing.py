"""What a push gateway receives: the body by detail level (never content) and its signature."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from services.notification.push.signing import (
    DELIVERY,
    DELIVERY_SIGNATURE,
    SIGNATURE,
    TIMESTAMP,
    encode_body,
    push_body,
    signature,
    signed_headers,
    verify,
)
from shared.notify_contracts import NotificationDetail

SECRET = "a-very-long-push-secret-0123456789abcdef"


def test_signature_is_hmac_sha256_over_timestamp_dot_delivery_dot_body() -> None:
    body = b'{"event":"new_message","conversation_id":"c1","unread":3}'
    # printf '%s' '1700000000.d-7.<body>' | openssl dgst -sha256 -hmac "$SECRET"
    expected = "579412602fa4144e519b83430d7f63d9b34153dc73673f6b3179a58706f36cf7"
    assert signature(SECRET, "1700000000", "d-7", body) == f"sha256={expected}"


def test_signed_headers_carry_timestamp_delivery_and_signature() -> None:
    body = encode_body({"event": "sync"})
    headers = signed_headers(SECRET, "d-42", body, now=1_700_000_123.9)
    assert headers[TIMESTAMP] == "1700000123"
    assert headers[DELIVERY] == "d-42"
    mac = hmac.new(SECRET.encode(), b"1700000123.d-42." + body, hashlib.sha256).hexdigest()
    assert headers[DELIVERY_SIGNATURE] == f"sha256={mac}"
    contract = hmac.new(SECRET.encode(), b"1700000123." + body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE] == f"sha256={contract}"  # API.md's header, unchanged
    assert headers["Content-Type"] == "application/json"


def test_verify_checks_the_signature_the_body_and_the_age() -> None:
    body = encode_body({"event": "sync"})
    headers = signed_headers(SECRET, "d-1", body, now=1_000_000)
    assert verify(SECRET, headers, body, now=1_000_100)
    assert not verify("another-secret-another-secret-xx", headers, body, now=1_000_100)
    assert not verify(SECRET, headers, body + b" ", now=1_000_100)
    assert not verify(SECRET, headers, body, now=1_000_000 + 301)  # a replay, later
    assert not verify(SECRET, {**headers, TIMESTAMP: "1000001"}, body, now=1_000_001)
    assert not verify(SECRET, {**headers, DELIVERY: "d-2"}, body, now=1_000_100)  # a fresh id


@pytest.mark.parametrize("urgent", [False, True])
def test_detail_none_says_only_sync(urgent: bool) -> None:
    assert push_body("none", "c1", 4, urgent=urgent, sender_display_name="Kim") == {"event": "sync"}


def test_detail_generic_names_the_conversation_and_the_unread_count() -> None:
    assert push_body("generic", "c1", 4, sender_display_name="Kim") == {
        "event": "new_message",
        "conversation_id": "c1",
        "unread": 4,
    }


def test_detail_sender_adds_the_display_name_when_known() -> None:
    assert push_body("sender", "c1", 1, sender_display_name="Kim") == {
        "event": "new_message",
        "conversation_id": "c1",
        "unread": 1,
        "sender_display_name": "Kim",
    }
    assert "sender_display_name" not in push_body("sender", "c1", 1)


@pytest.mark.parametrize("detail", ["generic", "sender"])
def test_an_urgent_message_adds_urgent_true(detail: NotificationDetail) -> None:
    body = push_body(detail, "c1", 2, urgent=True, sender_display_name="Sam")
    assert body["urgent"] is True
    assert "urgent" not in push_body(detail, "c1", 2)


def test_bodies_are_compact_json_of_known_keys_only() -> None:
    allowed = {"event", "conversation_id", "unread", "sender_display_name", "urgent"}
    details: tuple[NotificationDetail, ...] = ("none", "generic", "sender")
    for detail in details:
        body = push_body(detail, "c1", 9, urgent=True, sender_display_name="Kim")
        assert set(body) <= allowed
        encoded = encode_body(body)
        assert b" " not in encoded.replace(b"Kim", b"")
        assert json.loads(encoded) == body
