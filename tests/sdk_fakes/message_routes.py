"""Fake gateway routes for messages: the envelope checks, 409 device_mismatch, history, deletes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from haven_crypto.crypto import CryptoError
from haven_crypto.envelope import Envelope, verify_envelope
from tests.sdk_fakes.routes_base import RoutesBase
from tests.sdk_fakes.state import CRISIS_RESOURCES, Conversation, ProblemError, Stored, Token, now


class MessageRoutes(RoutesBase):
    # --- messages --------------------------------------------------------------------------------

    async def post_message(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        data = await self.body(request)
        answer = await self.accept_message(
            token, request.match_info["conversation_id"], data.get("envelope")
        )
        return web.json_response(answer, status=202)

    async def accept_message(self, token: Token, conversation_id: str, wire: Any) -> dict[str, Any]:
        conversation = self.conversation(token, conversation_id)
        try:
            envelope = Envelope.from_wire(wire)
        except CryptoError as exc:
            raise ProblemError(422, "invalid_request", str(exc)) from exc
        device = self.s.devices.get(envelope.sender_device_id)
        if envelope.sender_device_id != token.device_id or device is None or device.revoked_at:
            raise ProblemError(403, "forbidden", "not your active device")
        if conversation.status != "active":
            raise ProblemError(409, "conflict", "conversation ended")
        self._check_devices(conversation, set(envelope.keys))
        try:
            verify_envelope(conversation_id, envelope, device.identity_key)
        except CryptoError as exc:
            raise ProblemError(422, "bad_signature", str(exc)) from exc
        extra = {"crisis_resources": CRISIS_RESOURCES} if envelope.urgent else {}
        stored = self._store(token, conversation_id, envelope, wire)
        if stored is not None:
            await self._deliver(stored, set(envelope.keys) - {token.device_id})
            await self.after_message(conversation, token.account_id)
        return {"message_id": envelope.message_id, "status": "accepted", **extra}

    def _check_devices(self, conversation: Conversation, named: set[str]) -> None:
        active = {d.device_id for a in conversation.participants for d in self.s.active_devices(a)}
        if named != active:
            self.s.mismatches += 1
            raise ProblemError(
                409,
                "device_mismatch",
                "keys must name exactly the active devices",
                missing_devices=sorted(active - named),
                extra_devices=sorted(named - active),
            )

    def _store(
        self, token: Token, conversation_id: str, envelope: Envelope, wire: dict[str, Any]
    ) -> Stored | None:
        stored_list = self.s.messages[conversation_id]
        existing = next((m for m in stored_list if m.message_id == envelope.message_id), None)
        signature = wire["signature"]
        if existing is not None:
            if existing.sender_device_id != token.device_id or existing.signature != signature:
                raise ProblemError(409, "conflict", "message_id already used")
            return None
        if self.s.tamper_next is not None:
            wire, self.s.tamper_next = self.s.tamper_next(dict(wire)), None
        seq = (stored_list[-1].seq if stored_list else 0) + 1
        stored = Stored(
            envelope.message_id, conversation_id, seq, token.account_id, token.device_id,
            now(), envelope.urgent, wire, signature,
        )  # fmt: skip
        stored_list.append(stored)
        return stored

    async def _deliver(self, stored: Stored, devices: set[str]) -> None:
        if self.s.deliver:
            for device_id in sorted(devices):
                await self.hub.push(device_id, {"type": "message", "message": stored.item()})

    async def history(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        conversation = self.conversation(token, request.match_info["conversation_id"])
        stored = self.s.messages[conversation.conversation_id]
        limit = min(int(request.query.get("limit", "50")), 200)
        if "after_seq" in request.query:
            after = int(request.query["after_seq"])
            selected = [m for m in stored if m.seq > after]
        else:
            before = int(request.query["before_seq"])
            selected = [m for m in reversed(stored) if m.seq < before]
        page = selected[:limit]
        return web.json_response(
            {"messages": [m.item() for m in page], "has_more": len(selected) > limit}
        )

    async def delete_message(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        conversation = self.conversation(token, request.match_info["conversation_id"])
        stored = next(
            (
                m
                for m in self.s.messages[conversation.conversation_id]
                if m.message_id == request.match_info["message_id"]
            ),
            None,
        )
        if stored is None:
            raise ProblemError(404, "not_found", "no such message")
        if stored.sender_account_id != token.account_id:
            raise ProblemError(403, "forbidden", "sender only")
        stored.envelope = None
        frame = {
            "type": "message_deleted",
            "conversation_id": conversation.conversation_id,
            "message_id": stored.message_id,
            "seq": stored.seq,
        }
        for account_id in conversation.participants:
            await self.hub.push_account(account_id, frame)
        return web.json_response(
            {"message_id": stored.message_id, "status": "accepted"}, status=202
        )

    async def mark_read(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        conversation = self.conversation(token, request.match_info["conversation_id"])
        up_to = int((await self.body(request))["up_to_seq"])
        frame = {
            "type": "read",
            "conversation_id": conversation.conversation_id,
            "account_id": token.account_id,
            "up_to_seq": up_to,
        }
        for account_id in conversation.participants:
            if account_id != token.account_id:
                await self.hub.push_account(account_id, frame)
        return web.json_response({"status": "accepted"}, status=202)

    async def crisis(self, request: web.Request) -> web.Response:
        return web.json_response({"resources": CRISIS_RESOURCES})
