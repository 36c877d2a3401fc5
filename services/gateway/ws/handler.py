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
from services.gateway.tokens import Claims
from services.gateway.ws.frames import FrameLimiter
from services.gateway.ws.socket import DeviceSocket
from shared.errors import ApiError, RateLimited, Unauthorized, Unavailable
from shared.logging import correlation

log = structlog.get_logger(__name__)

AUTH_WINDOW = 10.0
AUTH_WINDOW_SECONDS = 10
CLOSE_UNAUTHENTICATED = 4401
CLOSE_REVOKED = 4403
MAX_FRAME = 256 * 1024
TOO_MANY_PENDING = "too many unauthenticated sockets from this address; authenticate sooner"


async def websocket(request: web.Request) -> web.StreamResponse:
    gw = gateway(request)
    registry = gw.sockets
    with gw.pending_sockets.admit(client_address(request)) as admitted:
        if not admitted:
            raise RateLimited(retry_after=AUTH_WINDOW_SECONDS, detail=TOO_MANY_PENDING)
        ws = web.WebSocketResponse(autoping=False, max_msg_size=MAX_FRAME)
        await ws.prepare(request)
        authenticated = await _first_auth(gw, ws, request)
    if authenticated is None:
        return ws
    who, claims = authenticated
    socket = DeviceSocket(ws, who.account_id, who.device_id, registry.ack_missed)
    socket.expires_at = claims.expires_at
    socket.session = claims.session
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
) -> tuple[Principal, Claims] | None:
    """The Authorization header, or (browsers) an `auth` frame within 10 s."""
    token = bearer(request)
    if token is None:
        try:
            msg = await ws.receive(timeout=AUTH_WINDOW)
            frame = decode_frame(msg.data) if msg.type == WSMsgType.TEXT else None
            token = frame.get("access_token") if frame and frame["type"] == "auth" else None
        except TimeoutError:
            token = None
    who = await _verified(gw, token, client_address(request))
    if who is None or not isinstance(token, str):
        await ws.close(code=CLOSE_UNAUTHENTICATED, message=b"not authenticated")
        return None
    return who, gw.signer.verify(token)


def decode_frame(data: object) -> dict[str, Any] | None:
    """A JSON object with a string `type`, or None. Hostile input (deep nesting that would
    blow the parser's recursion, non-objects) is just not a frame."""
    try:
        frame = json.loads(data) if isinstance(data, str | bytes) else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return None
    return frame


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
    frames = FrameLimiter(gw.settings.rate("ws_frames"))
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
        if not frames.allow(socket):
            continue
        frame = decode_frame(msg.data)
        if frame is None:
            socket.send({"type": "error", "code": "invalid_request", "detail": "not a frame"})
            continue
        with correlation(None):
            await _dispatch(gw, socket, who, frame, frames)


async def _dispatch(
    gw: Gateway, socket: DeviceSocket, who: Principal, frame: dict[str, Any], frames: FrameLimiter
) -> None:
    kind = frame["type"]
    if kind == "ack" and isinstance(frame.get("message_id"), str):
        socket.acked(frame["message_id"])
    elif kind == "ping":
        socket.send({"type": "pong"})
    elif kind == "auth":
        await _reauth(gw, socket, who, frame)
    elif kind == "send":
        if await _session_ended(gw, socket):
            return
        reply = await _send(gw, who, frame)
        socket.send(reply)
        if reply.get("code") == "rate_limited":
            frames.strike(socket)
    else:
        socket.send({"type": "error", "code": "invalid_request", "detail": f"unknown frame {kind}"})


async def _reauth(gw: Gateway, socket: DeviceSocket, who: Principal, frame: dict[str, Any]) -> None:
    token = frame.get("access_token")
    fresh = await _verified(gw, token, who.address)
    if fresh is None or (fresh.account_id, fresh.device_id) != (who.account_id, who.device_id):
        socket.close_soon(CLOSE_UNAUTHENTICATED, "re-authentication failed")
        return
    assert isinstance(token, str)
    claims = gw.signer.verify(token)
    socket.expires_at, socket.session = claims.expires_at, claims.session


async def _session_ended(gw: Gateway, socket: DeviceSocket) -> bool:
    """Every send re-checks the socket's session (cached, invalidated on revocation): a
    socket must not outlive a logout or revocation until its token expires."""
    current = await gw.device_cache.active_session(socket.device_id, socket.session)
    if current == socket.session:
        return False
    if current is None:
        socket.close_soon(CLOSE_REVOKED, "device revoked or logged out")
    else:
        socket.close_soon(CLOSE_UNAUTHENTICATED, "session ended; authenticate again")
    return True


async def _send(gw: Gateway, who: Principal, frame: dict[str, Any]) -> dict[str, Any]:
    envelope = frame.get("envelope")
    message_id = envelope.get("message_id") if isinstance(envelope, dict) else None
    conversation_id = frame.get("conversation_id")
    if not isinstance(conversation_id, str):
        conversation_id = ""  # never a participant: answered as not found
    try:
        accepted = await send.send(gw, who, conversation_id, envelope)
    except ApiError as error:
        refused: dict[str, Any] = {
            "type": "error",
            "message_id": message_id,
            "code": error.code,
            "detail": str(error),
            **error.extra,
        }
        if isinstance(error, RateLimited):
            refused["retry_after"] = error.retry_after
        return refused
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
