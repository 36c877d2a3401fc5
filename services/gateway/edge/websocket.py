"""`GET /v1/ws`: authenticate, bind, `ready`, then frames in both directions until close."""

from __future__ import annotations

import json
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from services.gateway import copy
from services.gateway.edge.http import client_address
from services.gateway.edge.keys import (
    authenticator_key,
    operations_key,
    pending_sockets_key,
    sending_key,
    settings_key,
    sockets_key,
)
from services.gateway.edge.middlewares import bearer
from services.gateway.edge.problems import error_fields
from services.gateway.edge.urgent import CurrentResources, wants_urgent, with_crisis_resources
from services.gateway.model.principal import Principal
from services.gateway.security.auth import Authenticator
from services.gateway.security.limits import address_bucket
from services.gateway.security.tokens import Claims
from services.gateway.sockets.budget import FrameLimiter
from services.gateway.sockets.socket import DeviceSocket
from services.gateway.usecases.send import Sending
from shared.errors import RateLimitedError, UnauthorizedError, UnavailableError
from shared.logging import correlation

log = structlog.get_logger(__name__)

AUTH_WINDOW = 10.0
AUTH_WINDOW_SECONDS = 10
CLOSE_UNAUTHENTICATED = 4401
CLOSE_REVOKED = 4403
MAX_FRAME = 256 * 1024
TOO_MANY_PENDING = "too many unauthenticated sockets from this address; authenticate sooner"


async def websocket(request: web.Request) -> web.StreamResponse:
    app = request.app
    authenticator, registry = app[authenticator_key], app[sockets_key]
    with app[pending_sockets_key].admit(address_bucket(client_address(request))) as admitted:
        if not admitted:
            raise RateLimitedError(retry_after=AUTH_WINDOW_SECONDS, detail=TOO_MANY_PENDING)
        ws = web.WebSocketResponse(autoping=False, max_msg_size=MAX_FRAME)
        await ws.prepare(request)
        authenticated = await _first_auth(authenticator, ws, request)
    if authenticated is None:
        return ws
    who, claims = authenticated
    socket = DeviceSocket(
        ws,
        who.account_id,
        who.device_id,
        registry.ack_missed,
        app[settings_key].ack_deadline_seconds,
    )
    socket.expires_at = claims.expires_at
    socket.session = claims.session
    socket.start()
    try:
        await registry.attach(socket)
    except UnavailableError:
        await registry.detach(socket)
        await ws.close(code=1013, message=b"deliveries unavailable")
        return ws
    socket.ready()
    log.info("socket_ready", device_id=who.device_id)
    conversation = Conversation(
        socket,
        who,
        authenticator,
        app[sending_key],
        FrameLimiter(app[settings_key].rate("ws_frames")),
        app[operations_key].crisis_resources,
    )
    try:
        await conversation.read()
    finally:
        await registry.detach(socket)
        code = socket.close_code or ws.close_code
        log.info("socket_closed", device_id=who.device_id, code=code)
    return ws


async def _first_auth(
    authenticator: Authenticator, ws: web.WebSocketResponse, request: web.Request
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
    verified = await _verified(authenticator, token, client_address(request))
    if verified is None:
        await ws.close(code=CLOSE_UNAUTHENTICATED, message=b"not authenticated")
    return verified


async def _verified(
    authenticator: Authenticator, token: object, address: str
) -> tuple[Principal, Claims] | None:
    if not isinstance(token, str):
        return None
    try:
        return await authenticator.authenticate(token, address), authenticator.claims(token)
    except UnauthorizedError:
        return None


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


class Conversation:
    """One authenticated socket's frames from the client, in order."""

    def __init__(
        self,
        socket: DeviceSocket,
        who: Principal,
        authenticator: Authenticator,
        sending: Sending,
        frames: FrameLimiter,
        crisis: CurrentResources,
    ) -> None:
        self._socket = socket
        self._who = who
        self._authenticator = authenticator
        self._sending = sending
        self._frames = frames
        self._crisis = crisis

    async def read(self) -> None:
        socket = self._socket
        async for msg in socket.ws:
            if msg.type == WSMsgType.PING:
                await socket.ws.pong(msg.data)
                continue
            if msg.type == WSMsgType.PONG:
                socket.pong()
                continue
            if msg.type != WSMsgType.TEXT:
                socket.send(
                    {"type": "error", "code": "invalid_request", "detail": copy.WS_TEXT_ONLY}
                )
                continue
            socket.pong()  # any traffic proves liveness
            if not self._frames.allow(socket):
                continue
            frame = decode_frame(msg.data)
            if frame is None:
                socket.send(
                    {"type": "error", "code": "invalid_request", "detail": copy.WS_NOT_A_FRAME}
                )
                continue
            with correlation(None):
                await self._dispatch(frame)

    async def _dispatch(self, frame: dict[str, Any]) -> None:
        kind, socket = frame["type"], self._socket
        if kind == "ack" and isinstance(frame.get("message_id"), str):
            socket.acked(frame["message_id"])
        elif kind == "ping":
            socket.send({"type": "pong"})
        elif kind == "auth":
            await self._reauth(frame)
        elif kind == "send":
            if await self._session_ended():
                return
            reply = await self._send(frame)
            socket.send(reply)
            if reply.get("code") == "rate_limited":
                self._frames.strike(socket)
        else:
            socket.send(
                {"type": "error", "code": "invalid_request", "detail": copy.WS_UNKNOWN_FRAME}
            )

    async def _reauth(self, frame: dict[str, Any]) -> None:
        who, socket = self._who, self._socket
        fresh = await _verified(self._authenticator, frame.get("access_token"), who.address)
        if fresh is None or (fresh[0].account_id, fresh[0].device_id) != (
            who.account_id,
            who.device_id,
        ):
            socket.close_soon(CLOSE_UNAUTHENTICATED, "re-authentication failed")
            return
        claims = fresh[1]
        socket.expires_at, socket.session = claims.expires_at, claims.session

    async def _session_ended(self) -> bool:
        """Every send re-checks the socket's session (cached, invalidated on revocation): a
        socket must not outlive a logout or revocation until its token expires."""
        socket = self._socket
        current = await self._authenticator.session_is_current(socket.device_id, socket.session)
        if current == socket.session:
            return False
        if current is None:
            socket.close_soon(CLOSE_REVOKED, "device revoked or logged out")
        else:
            socket.close_soon(CLOSE_UNAUTHENTICATED, "session ended; authenticate again")
        return True

    async def _send(self, frame: dict[str, Any]) -> dict[str, Any]:
        envelope = frame.get("envelope")
        message_id = envelope.get("message_id") if isinstance(envelope, dict) else None
        conversation_id = frame.get("conversation_id")
        if not isinstance(conversation_id, str):
            conversation_id = ""  # never a participant: answered as not found
        reply: dict[str, Any]
        try:
            accepted = await self._sending.send(self._who, conversation_id, envelope)
            reply = {"type": "accepted", "message_id": accepted}
        except Exception as error:  # a socket outlives any one frame; bugs are logged
            reply = {"type": "error", "message_id": message_id, **error_fields(error)}
        if wants_urgent(envelope):
            return await with_crisis_resources(reply, self._crisis)
        return reply
