"""`GET /v1/ws`: authenticate, bind, `ready`, then frames in both directions until close."""

from __future__ import annotations

import json
from typing import Any

import pydantic
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
from services.gateway.edge.urgent import CurrentResources, wants_urgent
from services.gateway.model.principal import Principal
from services.gateway.security.auth import Authenticator
from services.gateway.security.limits import address_bucket
from services.gateway.security.tokens import Claims
from services.gateway.sockets.budget import FrameLimiter
from services.gateway.sockets.socket import DeviceSocket
from services.gateway.usecases.send import Sending
from shared.errors import RateLimitedError, UnauthorizedError, UnavailableError
from shared.frames import (
    CLIENT_FRAMES,
    Accepted,
    Ack,
    Auth,
    ClientFrame,
    ErrorFrame,
    Ping,
    Pong,
    Send,
)
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
        ws=ws,
        account_id=who.account_id,
        device_id=who.device_id,
        on_ack_missed=registry.ack_missed,
        ack_deadline=app[settings_key].ack_deadline_seconds,
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
            decoded = decode_frame(msg.data) if msg.type == WSMsgType.TEXT else None
            frame = client_frame(decoded) if decoded is not None else None
            token = frame.access_token if isinstance(frame, Auth) else None
        except TimeoutError:
            token = None
    verified = await _verified(authenticator, token, client_address(request))
    if verified is None:
        await ws.close(code=CLOSE_UNAUTHENTICATED, message=b"not authenticated")
    return verified


async def _verified(
    authenticator: Authenticator, token: str | None, address: str
) -> tuple[Principal, Claims] | None:
    if token is None:
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


def client_frame(frame: dict[str, Any]) -> ClientFrame | None:
    """One of API.md's client frames, or None when it is not one this socket knows."""
    try:
        return CLIENT_FRAMES.validate_python(frame)
    except pydantic.ValidationError:
        return None


def refusal(detail: str) -> ErrorFrame:
    return ErrorFrame(code="invalid_request", detail=detail)


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
                socket.send(refusal(copy.WS_TEXT_ONLY))
                continue
            socket.pong()  # any traffic proves liveness
            if not self._frames.allow(socket):
                continue
            decoded = decode_frame(msg.data)
            if decoded is None:
                socket.send(refusal(copy.WS_NOT_A_FRAME))
                continue
            with correlation(None):
                await self._dispatch(client_frame(decoded))

    async def _dispatch(self, frame: ClientFrame | None) -> None:
        socket = self._socket
        match frame:
            case Ack(message_id=message_id):
                socket.acked(message_id)
            case Ping():
                socket.send(Pong())
            case Auth():
                await self._reauth(frame)
            case Send():
                if await self._session_ended():
                    return
                reply = await self._send(frame)
                socket.send(reply)
                if isinstance(reply, ErrorFrame) and reply.code == "rate_limited":
                    self._frames.strike(socket)
            case None:
                socket.send(refusal(copy.WS_UNKNOWN_FRAME))

    async def _reauth(self, frame: Auth) -> None:
        who, socket = self._who, self._socket
        fresh = await _verified(self._authenticator, frame.access_token, who.address)
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

    async def _send(self, frame: Send) -> Accepted | ErrorFrame:
        """`accepted` or the HTTP answer's `error`; an urgent send's carries crisis resources.
        A `conversation_id` of the wrong type is "" (no conversation: answered not found)."""
        reply: Accepted | ErrorFrame
        try:
            accepted = await self._sending.send(
                self._who, frame.conversation_id, frame.envelope, frame.attachment_ids
            )
            reply = Accepted(message_id=accepted)
        except Exception as error:  # a socket outlives any one frame; bugs are logged
            reply = ErrorFrame(message_id=frame.message_id, **error_fields(error))
        if wants_urgent(frame.envelope) and reply.crisis_resources is None:
            return reply.model_copy(update={"crisis_resources": await self._crisis()})
        return reply
