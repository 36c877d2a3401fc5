"""`GET /v1/ws`: authenticate, bind, `ready`, then frames in both directions until close."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from services.gateway.auth import authenticate, bearer
from services.gateway.context import Gateway, Principal
from services.gateway.http import client_address, gateway
from services.gateway.messages import send
from services.gateway.ws.socket import DeviceSocket
from shared.errors import ApiError, Unauthorized, Unavailable
from shared.logging import correlation

log = structlog.get_logger(__name__)

AUTH_WINDOW = 10.0
CLOSE_UNAUTHENTICATED = 4401
MAX_FRAME = 256 * 1024


async def websocket(request: web.Request) -> web.WebSocketResponse:
    gw = gateway(request)
    registry = gw.sockets
    ws = web.WebSocketResponse(autoping=False, max_msg_size=MAX_FRAME)
    await ws.prepare(request)
    authenticated = await _first_auth(gw, ws, request)
    if authenticated is None:
        return ws
    who, expires_at = authenticated
    socket = DeviceSocket(ws, who.account_id, who.device_id, registry.ack_missed)
    socket.expires_at = expires_at
    socket.start()
    try:
        await registry.attach(socket)
    except Unavailable:
        await registry.detach(socket)
        await ws.close(code=1013, message=b"deliveries unavailable")
        return ws
    socket.ready()
    log.info("socket_ready", device_id=who.device_id)
    expiry = asyncio.create_task(_expire(socket))
    try:
        await _read(gw, socket, who)
    finally:
        expiry.cancel()
        await registry.detach(socket)
        log.info("socket_closed", device_id=who.device_id, code=ws.close_code)
    return ws


async def _first_auth(
    gw: Gateway, ws: web.WebSocketResponse, request: web.Request
) -> tuple[Principal, int] | None:
    """The Authorization header, or (browsers) an `auth` frame within 10 s."""
    token = bearer(request)
    if token is None:
        try:
            msg = await ws.receive(timeout=AUTH_WINDOW)
            frame = json.loads(msg.data) if msg.type == WSMsgType.TEXT else {}
            token = frame.get("access_token") if frame.get("type") == "auth" else None
        except (TimeoutError, ValueError, AttributeError):
            token = None
    who = await _verified(gw, token, client_address(request))
    if who is None or not isinstance(token, str):
        await ws.close(code=CLOSE_UNAUTHENTICATED, message=b"not authenticated")
        return None
    return who, gw.signer.verify(token).expires_at


async def _verified(gw: Gateway, token: object, address: str) -> Principal | None:
    if not isinstance(token, str):
        return None
    try:
        return await authenticate(gw, token, address)
    except Unauthorized:
        return None


async def _expire(socket: DeviceSocket) -> None:
    """Close with 4401 unless a fresh token arrived before the current one expired."""
    while not socket.ws.closed:
        remaining = socket.expires_at - time.time()
        if remaining <= 0:
            socket.close_soon(CLOSE_UNAUTHENTICATED, "access token expired")
            return
        await asyncio.sleep(min(remaining, 30))


async def _read(gw: Gateway, socket: DeviceSocket, who: Principal) -> None:
    async for msg in socket.ws:
        if msg.type == WSMsgType.PING:
            await socket.ws.pong(msg.data)
            continue
        if msg.type == WSMsgType.PONG:
            socket.pong()
            continue
        if msg.type != WSMsgType.TEXT:
            socket.send({"type": "error", "code": "invalid_request", "detail": "text frames only"})
            continue
        socket.pong()  # any traffic proves liveness
        try:
            frame = json.loads(msg.data)
        except ValueError:
            frame = None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            socket.send({"type": "error", "code": "invalid_request", "detail": "not a frame"})
            continue
        with correlation(None):
            await _dispatch(gw, socket, who, frame)


async def _dispatch(
    gw: Gateway, socket: DeviceSocket, who: Principal, frame: dict[str, Any]
) -> None:
    kind = frame["type"]
    if kind == "ack" and isinstance(frame.get("message_id"), str):
        socket.acked(frame["message_id"])
    elif kind == "ping":
        socket.send({"type": "pong"})
    elif kind == "auth":
        await _reauth(gw, socket, who, frame)
    elif kind == "send":
        socket.send(await _send(gw, who, frame))
    else:
        socket.send({"type": "error", "code": "invalid_request", "detail": f"unknown frame {kind}"})


async def _reauth(gw: Gateway, socket: DeviceSocket, who: Principal, frame: dict[str, Any]) -> None:
    token = frame.get("access_token")
    fresh = await _verified(gw, token, who.address)
    if fresh is None or (fresh.account_id, fresh.device_id) != (who.account_id, who.device_id):
        socket.close_soon(CLOSE_UNAUTHENTICATED, "re-authentication failed")
        return
    assert isinstance(token, str)
    socket.expires_at = gw.signer.verify(token).expires_at


async def _send(gw: Gateway, who: Principal, frame: dict[str, Any]) -> dict[str, Any]:
    envelope = frame.get("envelope")
    message_id = envelope.get("message_id") if isinstance(envelope, dict) else None
    conversation_id = frame.get("conversation_id")
    if not isinstance(conversation_id, str):
        conversation_id = ""  # never a participant: answered as not found
    try:
        accepted = await send.send(gw, who, conversation_id, envelope)
    except ApiError as error:
        return {
            "type": "error",
            "message_id": message_id,
            "code": error.code,
            "detail": str(error),
            **error.extra,
        }
    except Exception:  # a socket outlives any one frame; the bug is in the log
        log.exception("ws_send_failed")
        out: dict[str, Any] = {
            "type": "error",
            "message_id": message_id,
            "code": "unavailable",
            "detail": "try again",
        }
        if send.wants_urgent(envelope):
            out["crisis_resources"] = await gw.crisis.current()
        return out
    reply: dict[str, Any] = {"type": "accepted", "message_id": accepted}
    if send.wants_urgent(envelope):
        reply["crisis_resources"] = await gw.crisis.current()
    return reply
