"""Shared plumbing of the fake's routes: auth, bodies, visibility, devices_changed fan-out."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from tests.sdk_fakes.hub import Hub
from tests.sdk_fakes.state import Conversation, FakeState, ProblemError, Token


class RoutesBase:
    def __init__(self, state: FakeState, hub: Hub) -> None:
        self.s = state
        self.hub = hub

    # --- helpers ----------------------------------------------------------------------

    def auth(self, request: web.Request) -> Token:
        header = request.headers.get("Authorization", "")
        token = (
            self.s.access.get(header.removeprefix("Bearer "))
            if header.startswith("Bearer ")
            else None
        )
        if token is None or token.expires_at < time.monotonic():
            raise ProblemError(401, "unauthorized", "missing or expired token")
        device = self.s.devices[token.device_id]
        if device.revoked_at is not None:
            raise ProblemError(401, "unauthorized", "device revoked")
        return token

    async def body(self, request: web.Request) -> dict[str, Any]:
        data = await request.json()
        if not isinstance(data, dict):
            raise ProblemError(422, "invalid_request", "body must be an object")
        return data

    def conversation(self, token: Token, conversation_id: str) -> Conversation:
        conversation = self.s.conversations.get(conversation_id)
        if conversation is None or token.account_id not in conversation.participants:
            raise ProblemError(404, "not_found", "no such conversation")
        return conversation

    async def after_message(self, conversation: Conversation, sender_account_id: str) -> None:
        """Called once a message is stored and delivered (``NotifyRoutes`` sends coach_away)."""

    async def devices_changed(self, account_id: str, exclude: str = "") -> None:
        frame = {"type": "devices_changed", "account_id": account_id}
        for other in self.s.counterpart_accounts(account_id) | {account_id}:
            await self.hub.push_account(other, frame, exclude=exclude)
