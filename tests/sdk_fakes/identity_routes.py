"""Fake gateway routes for accounts, sessions, devices, invites and conversations."""

from __future__ import annotations

import contextlib
import secrets
import time
from typing import Any

from aiohttp import web

from haven_crypto.crypto import (
    CryptoError,
    b64d,
    check_x25519_public,
    verify_kx_signature,
    verify_login_proof,
)
from tests.sdk_fakes.routes_base import RoutesBase
from tests.sdk_fakes.state import Conversation, Device, ProblemError, new_id, now


class IdentityRoutes(RoutesBase):
    # --- accounts and sessions -----------------------------------------------------------

    async def register(self, request: web.Request) -> web.Response:
        data = await self.body(request)
        invite = self.s.invites.pop(str(data.get("invite_code")), None)
        if invite is None:
            raise ProblemError(400, "invite_invalid", "bad, used or expired invite")
        if self.s.by_handle(str(data["handle"])) is not None:
            raise ProblemError(409, "conflict", "handle taken")
        kind, creator = invite
        account = self.s.add_account(
            data["handle"], data["password"], kind, data.get("display_name", "")
        )
        if kind == "client":
            self._relate(creator, account.account_id)
        return web.json_response(account.public(), status=201)

    def _relate(self, coach_id: str, client_id: str) -> Conversation:
        conversation = Conversation(new_id("conv"), coach_id, client_id)
        self.s.conversations[conversation.conversation_id] = conversation
        self.s.messages[conversation.conversation_id] = []
        return conversation

    async def login(self, request: web.Request) -> web.Response:
        data = await self.body(request)
        handle, block = str(data.get("handle", "")).lower(), data.get("device") or {}
        identity, kx = b64d(block["identity_key"]), b64d(block["kx_key"])
        if abs(time.time() - block["ts"]) > 300:
            self.s.clock_skews += 1
            raise ProblemError(422, "clock_skew", "ts too far", server_time=int(time.time()))
        if not verify_kx_signature(identity, handle, kx, b64d(block["kx_signature"])):
            raise ProblemError(422, "bad_signature", "kx_signature")
        if not verify_login_proof(identity, handle, block["ts"], kx, b64d(block["proof"])):
            raise ProblemError(422, "bad_signature", "proof")
        account = self.s.by_handle(handle)
        if account is None or account.password != data.get("password"):
            raise ProblemError(401, "unauthorized", "wrong credentials")
        device = await self._register_or_resume(account.account_id, block, identity, kx)
        return web.json_response(self.s.issue(device), status=201)

    async def _register_or_resume(
        self, account_id: str, block: dict[str, Any], identity: bytes, kx: bytes
    ) -> Device:
        existing = next((d for d in self.s.devices.values() if d.identity_key == identity), None)
        if existing is not None:
            if existing.account_id != account_id or existing.revoked_at is not None:
                raise ProblemError(422, "bad_signature", "identity key cannot be used")
            self.s.end_sessions(existing.device_id)
            if existing.kx_key != kx:
                existing.kx_key, existing.kx_signature = kx, b64d(block["kx_signature"])
                await self.devices_changed(account_id, exclude=existing.device_id)
            return existing
        if len(self.s.active_devices(account_id)) >= 10:
            raise ProblemError(409, "device_limit", "too many devices")
        device = Device(
            new_id("dev"),
            account_id,
            block["name"],
            identity,
            kx,
            b64d(block["kx_signature"]),
            now(),
        )
        self.s.devices[device.device_id] = device
        await self.devices_changed(account_id, exclude=device.device_id)
        return device

    async def refresh(self, request: web.Request) -> web.Response:
        data = await self.body(request)
        device_id = self.s.refresh.pop(str(data.get("refresh_token")), None)
        if device_id is None or self.s.devices[device_id].revoked_at is not None:
            raise ProblemError(401, "unauthorized", "refresh token not valid")
        self.s.refreshes += 1
        return web.json_response(self.s.issue(self.s.devices[device_id]))

    async def logout(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        self.s.end_sessions(token.device_id)
        await self.hub.close_device(token.device_id, 4403)
        return web.Response(status=204)

    async def me(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        body = self.s.accounts[token.account_id].public()
        body["devices"] = [
            self.s.device_public(d, detail=False) for d in self.s.active_devices(token.account_id)
        ]
        return web.json_response(body)

    # --- devices -----------------------------------------------------------------------------

    async def account_devices(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        account_id = request.match_info["account_id"]
        if account_id not in self.s.accounts or not self.s.related(token.account_id, account_id):
            raise ProblemError(404, "not_found", "no such account")
        devices = [self.s.device_public(d, detail=False) for d in self.s.active_devices(account_id)]
        return web.json_response({"account_id": account_id, "devices": devices})

    async def device(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        device = self.s.devices.get(request.match_info["device_id"])
        if device is None or not self.s.related(token.account_id, device.account_id):
            raise ProblemError(404, "not_found", "no such device")
        return web.json_response(self.s.device_public(device, detail=True))

    async def revoke_device(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        device = self.s.devices.get(request.match_info["device_id"])
        if device is None or device.account_id != token.account_id or device.revoked_at is not None:
            raise ProblemError(404, "not_found", "no such device")
        await self.revoke(device)
        return web.Response(status=204)

    async def revoke(self, device: Device) -> None:
        device.revoked_at = now()
        self.s.end_sessions(device.device_id)
        await self.hub.close_device(device.device_id, 4403)
        await self.devices_changed(device.account_id)

    async def rotate_kx(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        device_id = request.match_info["device_id"]
        if device_id != token.device_id:
            raise ProblemError(403, "forbidden", "own device only")
        data = await self.body(request)
        kx, signature = b64d(data["kx_key"]), b64d(data["kx_signature"])
        device = self.s.devices[device_id]
        with contextlib.suppress(CryptoError):
            check_x25519_public(kx)
            handle = self.s.accounts[token.account_id].handle
            if verify_kx_signature(device.identity_key, handle, kx, signature):
                device.kx_key, device.kx_signature = kx, signature
                await self.devices_changed(token.account_id, exclude=device_id)
                return web.Response(status=204)
        raise ProblemError(422, "bad_signature", "kx_signature")

    # --- invites and conversations ---------------------------------------------------------------

    async def create_invite(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        kind = (await self.body(request)).get("kind")
        role = self.s.accounts[token.account_id].role
        if (kind, role) not in (("coach", "operator"), ("client", "coach")):
            raise ProblemError(403, "forbidden", "not allowed to invite")
        code = secrets.token_urlsafe(16)
        self.s.invites[code] = (str(kind), token.account_id)
        return web.json_response(
            {"code": code, "kind": kind, "expires_at": now().isoformat()}, status=201
        )

    async def accept_invite(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        invite = self.s.invites.pop(str((await self.body(request)).get("code")), None)
        if invite is None or invite[0] != "client":
            raise ProblemError(400, "invite_invalid", "bad invite")
        conversation = self._relate(invite[1], token.account_id)
        frame = {
            "type": "relationship",
            "conversation_id": conversation.conversation_id,
            "status": "active",
        }
        await self.hub.push_account(invite[1], frame)
        return web.json_response({"conversation_id": conversation.conversation_id}, status=201)

    async def conversations(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        listed = []
        for c in self.s.conversations.values():
            if token.account_id in c.participants:
                stored = self.s.messages[c.conversation_id]
                listed.append(
                    {
                        "conversation_id": c.conversation_id,
                        "status": c.status,
                        "participants": [self.s.accounts[a].public() for a in c.participants],
                        "last_seq": stored[-1].seq if stored else 0,
                        "read_up_to": 0,
                    }
                )
        return web.json_response({"conversations": listed})
