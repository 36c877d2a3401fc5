"""Web Push's small rules: the Topic a conversation gets, the VAPID subject, the keys a
subscription must carry, the JWT's audience and lifetime, and the settings' defaults."""

from __future__ import annotations

import base64
import os
import re
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.notification.push.delivery import WEBPUSH_GONE
from services.notification.push.sender import Attempt, verdict
from services.notification.push.urlguard import host_allowed, parse_allowlist
from services.notification.push.webpush import (
    TOKEN_LIFETIME,
    Subscriber,
    UnusableSubscriptionError,
    VapidKey,
    check_keys,
    check_subject,
    generate_pem,
    origin,
    read_key_file,
    topic,
    webpush_request,
)
from services.notification.settings import WEBPUSH_HOSTS


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def point() -> bytes:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )


@pytest.mark.parametrize("conversation", ["c1", "x" * 500, "ünïcode/+="])
def test_a_topic_is_32_url_safe_characters_stable_per_conversation(conversation: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", topic(conversation))
    assert topic(conversation) == topic(conversation)
    assert topic(conversation) != topic(conversation + "2")


@pytest.mark.parametrize(
    ("subject", "ok"),
    [
        ("mailto:ops@haven.example.org", True),
        ("https://haven.example.org/contact", True),
        ("mailto:ops@localhost", False),
        ("http://haven.example.org", False),
        ("ops@haven.example.org", False),
        ("", False),
    ],
)
def test_the_vapid_subject_is_a_real_mailto_or_https(subject: str, ok: bool) -> None:
    if ok:
        assert check_subject(subject) == subject
    else:
        with pytest.raises(ValueError, match="mailto"):
            check_subject(subject)


def test_subscription_keys_are_a_p256_point_and_16_bytes() -> None:
    good_point, good_auth = b64url(point()), b64url(os.urandom(16))
    assert check_keys(good_point, good_auth) is None
    assert check_keys(good_point + "==", good_auth) is None  # padding is tolerated
    assert check_keys(b64url(b"\x04" + b"\x01" * 64), good_auth) == "keys.p256dh"  # off curve
    assert check_keys("not base64!", good_auth) == "keys.p256dh"
    assert check_keys(good_point, b64url(os.urandom(15))) == "keys.auth"


def test_the_token_names_the_endpoints_origin_and_expires_within_a_day() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    vapid = VapidKey(private, "mailto:ops@haven.example.org")
    for endpoint in ("https://fcm.googleapis.com/fcm/send/abc", "https://web.push.apple.com/x"):
        header = vapid.authorization(endpoint, time.time())
        token = dict(p.split("=", 1) for p in header.removeprefix("vapid ").split(","))["t"]
        claims = jwt.decode(
            token, private.public_key(), algorithms=["ES256"], audience=origin(endpoint)
        )
        assert claims["aud"] == origin(endpoint)  # a fresh dict per push: no stale audience
        assert claims["exp"] - time.time() <= TOKEN_LIFETIME <= 24 * 3600
    assert origin("https://fcm.googleapis.com:443/fcm/send/abc") == "https://fcm.googleapis.com"
    assert origin("http://127.0.0.1:8443/a/b") == "http://127.0.0.1:8443"


def test_the_key_file_holds_a_p256_pem(tmp_path: Path) -> None:
    good = tmp_path / "vapid"
    good.write_bytes(generate_pem())
    assert read_key_file(good).curve.name == "secp256r1"
    bad = tmp_path / "bad"
    bad.write_text("not a key")
    with pytest.raises(ValueError, match="P-256"):
        read_key_file(bad)


def test_the_default_allowlist_holds_the_browsers_push_services() -> None:
    allowed = parse_allowlist(WEBPUSH_HOSTS)
    for host in (
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "web.push.apple.com",
        "wns2-par02p.notify.windows.com",
    ):
        assert host_allowed(host, allowed)
    assert not host_allowed("evil.example.com", allowed)


@pytest.mark.parametrize(
    ("status", "webhook", "webpush"),
    [
        (404, "give_up", "gone"),
        (410, "gone", "gone"),
        (201, "sent", "sent"),
        (429, "retry", "retry"),
    ],
)
def test_a_push_service_forgetting_the_browser_is_404_or_410(
    status: int, webhook: str, webpush: str
) -> None:
    attempt = Attempt(status, None, 0.1)
    assert verdict(attempt) == webhook
    assert verdict(attempt, gone=WEBPUSH_GONE) == webpush


def test_a_push_that_cannot_be_built_is_an_unusable_subscription() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    keys = Subscriber(p256dh=b64url(point()), auth=b64url(os.urandom(16)))
    unconfigured = VapidKey(private, "")  # HAVEN_VAPID_SUBJECT unset since it was subscribed
    with pytest.raises(UnusableSubscriptionError):
        webpush_request(
            unconfigured,
            "https://fcm.googleapis.com/x",
            keys,
            b"{}",
            conversation_id="c1",
            urgent=False,
            ttl=60,
        )
    broken = Subscriber(p256dh="AAAA", auth=keys.auth)
    with pytest.raises(UnusableSubscriptionError):
        webpush_request(
            VapidKey(private, "mailto:ops@haven.example.org"),
            "https://fcm.googleapis.com/x",
            broken,
            b"{}",
            conversation_id="c1",
            urgent=False,
            ttl=60,
        )
