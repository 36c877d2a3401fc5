"""A Web Push service on 127.0.0.1 for tests, and a browser's side of a subscription: it holds
the subscription's private keys, decrypts RFC 8291 payloads and checks RFC 8292 VAPID tokens.

`/{name}/{statuses}` answers the statuses in turn (`503,201`: 503 once, then 201 for ever).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import http_ece
import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.localhttp import serving_posts


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """The keys a browser makes for one push subscription."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(raw)

    def subscription(self, endpoint: str) -> dict[str, Any]:
        """What the page sends: `PushSubscription.toJSON()` plus the kind."""
        return {
            "kind": "webpush",
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )
        decoded: dict[str, Any] = json.loads(plain)
        return decoded


def vapid_claims(authorization: str, public_key: str) -> dict[str, Any]:
    """The claims of `vapid t=<JWT>,k=<key>` once the JWT verifies under `public_key` (the
    one `GET /v1/push/vapid` gives) and `k` is that key; AssertionError / jwt errors if not."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid", authorization[:10]
    parts = dict(part.strip().split("=", 1) for part in params.split(","))
    assert parts["k"] == public_key
    point = unb64url(public_key)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    claims: dict[str, Any] = jwt.decode(
        parts["t"], key, algorithms=["ES256"], options={"verify_aud": False}
    )
    assert jwt.get_unverified_header(parts["t"])["alg"] == "ES256"
    return claims


@dataclass
class Pushed:
    name: str
    status: int
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class PushService:
    port: int = 0
    received: list[Pushed] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    answered: dict[str, int] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        statuses = [int(s) for s in request.match_info["statuses"].split(",")]
        turn = self.answered.get(name, 0)
        self.answered[name] = turn + 1
        status = statuses[min(turn, len(statuses) - 1)]
        self.received.append(
            Pushed(name, status, dict(request.headers), await request.read(), time.monotonic())
        )
        self.changed.set()
        return web.Response(status=status)

    def endpoint(self, name: str, statuses: str = "201") -> str:
        return f"http://127.0.0.1:{self.port}/{name}/{statuses}"

    def of(self, name: str) -> list[Pushed]:
        return [p for p in self.received if p.name == name]

    async def wait_for(self, name: str, count: int, timeout: float = 15.0) -> list[Pushed]:
        async with asyncio.timeout(timeout):
            while len(self.of(name)) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.of(name)


@asynccontextmanager
async def push_service() -> AsyncIterator[PushService]:
    service = PushService()
    async with serving_posts("/{name}/{statuses}", service.handle) as service.port:
        yield service
