"""WebSocket helpers for tests that drive the gateway's /v1/ws like a companion app."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

import aiohttp


class HasGateway(Protocol):
    @property
    def gateway_url(self) -> str: ...


def ws_url(stack: HasGateway) -> str:
    return stack.gateway_url.replace("http://", "ws://") + "/v1/ws"


async def next_frame(ws: aiohttp.ClientWebSocketResponse, timeout: float = 10) -> dict[str, Any]:
    msg = await ws.receive(timeout=timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, (msg.type, msg.data, ws.close_code)
    frame: dict[str, Any] = msg.json()
    return frame


async def closed_with(ws: aiohttp.ClientWebSocketResponse, timeout: float = 10) -> int | None:
    while True:
        msg = await ws.receive(timeout=timeout)
        if msg.type == aiohttp.WSMsgType.CLOSE:
            return int(msg.data)  # the code the server sent in its close frame
        if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return ws.close_code


async def frames_for(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> list[dict[str, Any]]:
    """Every frame that arrives within `seconds`."""
    seen: list[dict[str, Any]] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                seen.append(await next_frame(ws, timeout=seconds))
    return seen


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def frame_of_type(
    ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 10
) -> dict[str, Any]:
    """The next frame of this type, skipping others (acking nothing)."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await next_frame(ws, timeout=timeout)
            if frame["type"] == kind:
                return frame
