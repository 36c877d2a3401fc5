"""The fake's WebSocket side: one socket per device, ready/message/ack/resync, re-auth, closes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from tests.sdk_fakes.state import FakeState, ProblemError, Token

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    SendHandler = Callable[[Token, str, Any], Awaitable[dict[str, Any]]]


class Hub:
    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.send_handler: SendHandler | None = None

    async def push(self, device_id: str, frame: dict[str, Any]) -> bool:
        ws = self.sockets.get(device_id)
        if ws is None or ws.closed:
            return False
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_json(frame)
            return True
        return False

    async def push_account(self, account_id: str, frame: dict[str, Any], exclude: str = "") -> None:
        for device in self.state.active_devices(account_id):
            if device.device_id != exclude:
                await self.push(device.device_id, frame)

    async def close_device(self, device_id: str, code: int) -> None:
        ws = self.sockets.pop(device_id, None)
        if ws is not None and not ws.closed:
            await ws.close(code=code)

    async def drop_all(self, code: int = 1012) -> None:
        """What a gateway restart looks like to clients."""
        for device_id in list(self.sockets):
            await self.close_device(device_id, code)

    async def resync_all(self) -> None:
        for device_id in list(self.sockets):
            await self.push(device_id, {"type": "resync"})

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        token = self._token(request.headers.get("Authorization", ""))
        if token is None:
            raise ProblemError(401, "unauthorized", "bearer token required")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        device_id = token.device_id
        older = self.sockets.get(device_id)
        self.sockets[device_id] = ws
        if older is not None and not older.closed:
            await older.close(code=4409)
        self.state.ws_connects[device_id] = self.state.ws_connects.get(device_id, 0) + 1
        expiry = {"at": token.expires_at}
        watchdog = asyncio.get_running_loop().create_task(self._expire(ws, expiry))
        try:
            await ws.send_json({"type": "ready"})
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._frame(ws, token, expiry, json.loads(message.data))
        finally:
            watchdog.cancel()
            if self.sockets.get(device_id) is ws:
                del self.sockets[device_id]
        return ws

    async def _expire(self, ws: web.WebSocketResponse, expiry: dict[str, float]) -> None:
        while not ws.closed:
            await asyncio.sleep(max(expiry["at"] - time.monotonic(), 0.01))
            if time.monotonic() >= expiry["at"] and not ws.closed:
                self.state.ws_expired_closes += 1
                await ws.close(code=4401)
                return

    async def _frame(
        self, ws: web.WebSocketResponse, token: Token, expiry: dict[str, float], frame: Any
    ) -> None:
        kind = frame.get("type") if isinstance(frame, dict) else None
        self.state.changed.set()
        if kind == "ack":
            self.state.acks.append((token.device_id, str(frame.get("message_id"))))
        elif kind == "ping":
            await ws.send_json({"type": "pong"})
        elif kind == "auth":
            fresh = self._token("Bearer " + str(frame.get("access_token")))
            if fresh is None or fresh.device_id != token.device_id:
                await ws.close(code=4401)
                return
            self.state.ws_auth_frames += 1
            expiry["at"] = fresh.expires_at
        elif kind == "send" and self.send_handler is not None:
            await ws.send_json(await self._send(token, frame))
        else:
            await ws.send_json({"type": "error", "code": "invalid_request", "detail": "bad frame"})

    async def _send(self, token: Token, frame: dict[str, Any]) -> dict[str, Any]:
        assert self.send_handler is not None
        envelope = frame.get("envelope")
        message_id = envelope.get("message_id") if isinstance(envelope, dict) else None
        try:
            answer = await self.send_handler(token, str(frame.get("conversation_id")), envelope)
        except ProblemError as problem:
            return {
                "type": "error",
                "message_id": message_id,
                "code": problem.code,
                "detail": problem.detail,
                **problem.extra,
            }
        return {"type": "accepted", **answer}

    def _token(self, header: str) -> Token | None:
        if not header.startswith("Bearer "):
            return None
        token = self.state.access.get(header.removeprefix("Bearer "))
        if token is None or token.expires_at < time.monotonic():
            return None
        device = self.state.devices.get(token.device_id)
        return token if device is not None and device.revoked_at is None else None
