"""A thin HTTP driver for the gateway API, used by e2e tests the way a companion app would."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import nacl.public
import nacl.signing

from haven_crypto import crypto

# Operator passwords every start-up and `haven-admin` refuse: placeholders, too short, too long.
PLACEHOLDERS = [
    "change-me-operator-password",
    "Please-CHANGE-ME-now",
    "CHANGEME1234567890",
    "short",
    "x" * 257,
]


@dataclass
class DeviceKeys:
    identity: nacl.signing.SigningKey = field(default_factory=nacl.signing.SigningKey.generate)
    kx: nacl.public.PrivateKey = field(default_factory=nacl.public.PrivateKey.generate)

    @property
    def identity_public(self) -> bytes:
        return bytes(self.identity.verify_key)

    @property
    def kx_public(self) -> bytes:
        return bytes(self.kx.public_key)

    def block(self, handle: str, name: str = "phone", ts: int | None = None) -> dict[str, Any]:
        ts = int(time.time()) if ts is None else ts
        return {
            "name": name,
            "identity_key": crypto.b64e(self.identity_public),
            "kx_key": crypto.b64e(self.kx_public),
            "kx_signature": crypto.b64e(crypto.sign_kx(self.identity, handle, self.kx_public)),
            "ts": ts,
            "proof": crypto.b64e(
                crypto.sign_login_proof(self.identity, handle, ts, self.kx_public)
            ),
        }


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


@dataclass
class Session:
    handle: str
    password: str
    account_id: str
    device_id: str
    access_token: str
    refresh_token: str
    role: str
    keys: DeviceKeys


class Api:
    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http = http
        self.base = base_url

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {"headers": hdrs}
        if raw is not None:
            kwargs["data"] = raw
            hdrs.setdefault("Content-Type", "application/json")
        elif body is not None:
            kwargs["json"] = body
        async with self.http.request(method, f"{self.base}{path}", **kwargs) as response:
            text = await response.text()
            try:
                parsed = await response.json(content_type=None) if text else None
            except ValueError:
                parsed = text
            return Reply(response.status, parsed, dict(response.headers))

    async def login(
        self,
        handle: str,
        password: str,
        keys: DeviceKeys | None = None,
        name: str = "phone",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> Session:
        keys = keys or DeviceKeys()
        reply = await self.call(
            "POST",
            "/v1/sessions",
            {
                "handle": handle,
                "password": password,
                "device": keys.block(handle.lower(), name),
                **extra,
            },
            headers=headers,
        )
        assert reply.status == 201, reply.body
        b = reply.body
        return Session(
            handle,
            password,
            b["account"]["account_id"],
            b["device_id"],
            b["access_token"],
            b["refresh_token"],
            b["account"]["role"],
            keys,
        )

    async def invite(self, session: Session, kind: str) -> str:
        reply = await self.call("POST", "/v1/invites", {"kind": kind}, session.access_token)
        assert reply.status == 201, reply.body
        return str(reply.body["code"])

    async def register(self, handle: str, password: str, code: str, name: str = "") -> Reply:
        body = {
            "handle": handle,
            "password": password,
            "invite_code": code,
            "display_name": name or handle.title(),
        }
        return await self.call("POST", "/v1/accounts", body)

    async def onboard(self, inviter: Session, kind: str, handle: str) -> Session:
        password = f"{handle}-password-1"
        reply = await self.register(handle, password, await self.invite(inviter, kind))
        assert reply.status == 201, reply.body
        return await self.login(handle, password)


def seal_for(
    sender: Session,
    conversation_id: str,
    devices: dict[str, bytes],
    text: str = "hello",
    *,
    urgent: bool = False,
    message_id: str | None = None,
) -> dict[str, Any]:
    """Seal a text payload the way a device does (devices: device_id -> kx public key)."""
    import json
    import uuid

    from haven_crypto.envelope import seal

    payload = json.dumps({"type": "text", "body": text, "sent_at": int(time.time())}).encode()
    envelope = seal(
        payload,
        conversation_id=conversation_id,
        message_id=message_id or str(uuid.uuid4()),
        sender_device_id=sender.device_id,
        identity=sender.keys.identity,
        kx=sender.keys.kx,
        recipients=devices,
        urgent=urgent,
    )
    return envelope.to_wire()


async def device_keys_of(api: Api, session: Session, *account_ids: str) -> dict[str, bytes]:
    """Active devices (id -> kx public key) of the given accounts, as the caller sees them."""
    found: dict[str, bytes] = {}
    for account_id in account_ids:
        reply = await api.call(
            "GET", f"/v1/accounts/{account_id}/devices", token=session.access_token
        )
        assert reply.status == 200, reply.body
        for device in reply.body["devices"]:
            found[device["device_id"]] = crypto.b64d(device["kx_key"])
    return found


async def coach_and_client(
    api: Api, operator: Session, tag: str
) -> tuple[Session, Session, str, dict[str, bytes]]:
    """A new coach and client, their conversation, and its devices as the client sees them."""
    coach = await api.onboard(operator, "coach", f"coach_{tag}")
    client = await api.onboard(coach, "client", f"client_{tag}")
    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    cid = listed.body["conversations"][0]["conversation_id"]
    devices = await device_keys_of(api, client, coach.account_id, client.account_id)
    return coach, client, cid, devices
