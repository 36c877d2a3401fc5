"""Web Push (RFC 8030) to a browser's push service: the VAPID key, and one push's bytes.

The payload is the same content-free JSON body a webhook gets, encrypted for the subscription
per RFC 8291 (`aes128gcm`, pywebpush / http_ece) and authorised per RFC 8292 (py_vapid: an ES256
JWT with `aud` = the endpoint's origin, `exp` one hour ahead, `sub` = `HAVEN_VAPID_SUBJECT`).
Claims are a fresh dict per push: pywebpush's `webpush()` mutates the dict it is given, so
one shared between push services keeps the first `aud` (pywebpush#79); we never call it.
`Topic` is derived from the conversation (RFC 8030 allows 32 URL-safe characters), so a push
service replaces an undelivered push of the same conversation with the newer one.

The VAPID private key is a P-256 key in PEM, read from `HAVEN_VAPID_KEY_FILE` (a compose
secret, `python -m services.deploy_secrets`), never from the database; without a file, in
development, a temporary key with a warning (browsers subscribed under it must subscribe again
after a restart).

cryptography and py_vapid (about 8 MiB of a process) are imported where a key is first read,
made or checked, not with this module: a service without `HAVEN_VAPID_KEY_FILE` makes its
temporary key on first use, so one that never pushes nor publishes the key never loads them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from yarl import URL

from shared.errors import HavenError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

log = structlog.get_logger(__name__)

TOKEN_LIFETIME = 3600  # seconds; RFC 8292 allows up to 24 h, Apple refuses more
_SUBJECT = re.compile(r"^(mailto:[^@\s]+@[^@\s]+\.[^@\s]+|https://[^\s/]+\.[^\s/]+(/\S*)?)$")


class UnusableSubscriptionError(HavenError):
    """A push that cannot be built: keys that do not encrypt, or no VAPID subject configured
    (it is dead-lettered, not retried). The message never quotes the subscription."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Base64url with or without padding; ValueError if it is not."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def check_subject(subject: str) -> str:
    """`HAVEN_VAPID_SUBJECT`: a `mailto:` address or an `https:` URL the push services can
    reach the operator by (Apple refuses made-up ones such as `@localhost`)."""
    if not _SUBJECT.match(subject) or "localhost" in subject.lower():
        raise ValueError("a mailto: address or an https: URL of the operator")
    return subject


def check_keys(p256dh: str, auth: str) -> str | None:
    """Why a subscription's keys are unusable (the field), or None: `p256dh` is an
    uncompressed P-256 point (65 bytes), `auth` 16 bytes."""
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        point = unb64url(p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        return "keys.p256dh"
    if len(point) != 65:  # a compressed point is valid, but not what browsers give
        return "keys.p256dh"
    try:
        if len(unb64url(auth)) != 16:
            return "keys.auth"
    except ValueError:
        return "keys.auth"
    return None


def sealing_context(device_id: str) -> str:
    """What a subscription's sealed keys are bound to: the device, and being Web Push keys
    (a webhook secret's sealed bytes do not open as keys, nor the other way round)."""
    return f"{device_id}\x00webpush"


def topic(conversation_id: str) -> str:
    """32 URL-safe characters standing for the conversation (not its id: that is opaque
    enough, but a hash keeps to the length whatever ids look like)."""
    return b64url(hashlib.blake2b(conversation_id.encode(), digest_size=24).digest())


def origin(endpoint: str) -> str:
    """The push service's origin, the JWT's `aud` (default ports left out)."""
    url = URL(endpoint)
    return str(url.origin())


def generate_pem() -> bytes:
    """A new VAPID private key (P-256, PKCS#8 PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def read_key_file(path: Path) -> ec.EllipticCurvePrivateKey:
    """The P-256 key in `path`; ValueError naming the problem, never the content."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError:
        raise ValueError("cannot be read") from None
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError("must hold a P-256 private key in PEM") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("must hold a P-256 private key in PEM")
    return key


@dataclass(frozen=True)
class Subscriber:
    """What a Web Push subscription keeps sealed: the browser's keys."""

    p256dh: str
    auth: str

    def sealable(self) -> str:
        return json.dumps({"p256dh": self.p256dh, "auth": self.auth}, separators=(",", ":"))

    @classmethod
    def opened(cls, text: str) -> Subscriber:
        keys = json.loads(text)
        return cls(p256dh=str(keys["p256dh"]), auth=str(keys["auth"]))


class VapidKey:
    """The application server's key pair; signs one JWT per push. Without a key (`None`), a
    temporary one is made on first use: the public key published, or the first push."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey | None, subject: str) -> None:
        self._subject = subject
        self._made = threading.Lock()  # pushes are built on worker threads
        self._vapid: Any = None
        self._public_key = ""
        if private_key is not None:
            self._use(private_key)

    def _use(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        from cryptography.hazmat.primitives import serialization
        from py_vapid import Vapid02  # type: ignore[import-untyped]

        vapid = Vapid02()
        vapid.private_key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self._public_key = b64url(raw)
        self._vapid = vapid

    def _signer(self) -> Any:
        with self._made:
            if self._vapid is None:
                from cryptography.hazmat.primitives.asymmetric import ec

                self._use(ec.generate_private_key(ec.SECP256R1()))
            return self._vapid

    @property
    def public_key(self) -> str:
        """The uncompressed P-256 point, base64url: what browsers subscribe with."""
        self._signer()
        return self._public_key

    @classmethod
    def load(cls, path: Path | None, subject: str) -> VapidKey:
        if path is None:
            log.warning(
                "ephemeral_vapid_key",
                hint="set HAVEN_VAPID_KEY_FILE: browsers subscribed under this key must "
                "subscribe again after a restart, and replicas disagree on it",
            )
            return cls(None, subject)
        return cls(read_key_file(path), subject)

    def authorization(self, endpoint: str, now: float) -> str:
        """`vapid t=<JWT>,k=<public key>` for a push to `endpoint` (fresh claims each time)."""
        claims = {"aud": origin(endpoint), "exp": int(now) + TOKEN_LIFETIME, "sub": self._subject}
        headers: dict[str, str] = self._signer().sign(claims)
        return headers["Authorization"]


def webpush_request(
    vapid: VapidKey,
    endpoint: str,
    subscriber: Subscriber,
    body: bytes,
    *,
    conversation_id: str,
    urgent: bool,
    ttl: int,
) -> tuple[dict[str, str], bytes]:
    """Headers and encrypted body of one push (CPU work: run it off the event loop)."""
    # Imported on the first push, not at start: pywebpush brings requests and urllib3 along
    # (about 10 MiB a process that never sends a Web Push would carry for nothing).
    from py_vapid import VapidException
    from pywebpush import WebPusher, WebPushException  # type: ignore[import-untyped]

    keys = {"p256dh": subscriber.p256dh, "auth": subscriber.auth}
    try:
        pusher = WebPusher({"endpoint": endpoint, "keys": keys})
        encrypted: dict[str, Any] = pusher.encode(body, "aes128gcm")
        authorization = vapid.authorization(endpoint, time.time())
    except (ValueError, TypeError, KeyError, WebPushException, VapidException) as error:
        raise UnusableSubscriptionError(type(error).__name__) from None
    headers = {
        "Authorization": authorization,
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(ttl),
        "Urgency": "high" if urgent else "normal",
        "Topic": topic(conversation_id),
    }
    return headers, bytes(encrypted["body"])
