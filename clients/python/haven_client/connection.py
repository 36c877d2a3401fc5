"""The WebSocket: connect with the bearer token, stay authenticated, come back after drops.

The socket only moves frames. What a frame means is the ``Receiver``'s business; the
connection answers ``send`` frames' ``accepted``/``error`` itself, because a sender
is waiting on them. Close codes decide the next step (API.md): 4401 refresh and
reconnect, 4403 (revoked or logged out) and 4409 (replaced by a newer socket of
this device) stop for good, anything else reconnects with jittered back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import random
from collections.abc import Callable
from typing import Any

import aiohttp

from haven_client.errors import RetryLater, SessionExpired, api_error
from haven_client.events import ConnectionChanged, Event
from haven_client.models import SendAccepted
from haven_client.transport import Transport

log = logging.getLogger("haven_client.connection")
FINAL_CLOSE_CODES = {4403: "device revoked or logged out", 4409: "replaced by a newer socket"}
SEND_TIMEOUT = 15.0
HEARTBEAT = 25.0  # our own pings notice a silently dead network; the server pings every 20 s


@dataclasses.dataclass(frozen=True)
class Backoff:
    """Exponential with jitter, so a restarted gateway is not hit by every device at once."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.maximum, self.initial * self.factor**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not secrecy


class Connection:
    def __init__(
        self,
        transport: Transport,
        on_frame: Callable[[dict[str, Any]], None],
        emit: Callable[[Event], None],
        backoff: Backoff,
    ) -> None:
        self._transport = transport
        self._on_frame = on_frame
        self._emit = emit
        self._backoff = backoff
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ready = False
        self._closing = False
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._background: set[asyncio.Task[None]] = set()

    @property
    def ready(self) -> bool:
        return self._ready and self._ws is not None and not self._ws.closed

    async def run(self) -> None:
        """Connect, pump frames, reconnect; returns only on close() or a final close code."""
        unsubscribe = self._transport.on_new_token(self._token_changed)
        self._closing = False
        attempt = 0
        try:
            while not self._closing:
                try:
                    code = await self._session_once()
                except (aiohttp.ClientError, OSError, TimeoutError, RetryLater) as exc:
                    log.info("ws_session_failed error=%r", exc)  # e.g. refresh while offline
                    code = None
                if code is not None and code in FINAL_CLOSE_CODES:
                    self._emit(
                        ConnectionChanged(state="closed", code=code, reason=FINAL_CLOSE_CODES[code])
                    )
                    return
                if self._closing:
                    return
                attempt = 0 if code == -1 else attempt + 1
                self._emit(ConnectionChanged(state="disconnected", code=code))
                await asyncio.sleep(self._backoff.delay(attempt))
        except SessionExpired as exc:
            self._emit(ConnectionChanged(state="closed", reason=str(exc)))
        finally:
            unsubscribe()

    async def _session_once(self) -> int | None:
        """One socket's life; its close code, -1 if it had reached ``ready`` (resets back-off)."""
        token = await self._transport.access_token()
        headers = {"Authorization": f"Bearer {token}"}
        reached_ready = False
        try:
            async with self._transport.http.ws_connect(
                self._transport.ws_url(), headers=headers, autoping=True, heartbeat=HEARTBEAT
            ) as ws:
                self._ws = ws
                reached_ready = await self._pump(ws)
                code = ws.close_code
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 401:
                await self._transport.refresh(stale=token)
            return None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("ws_connect_failed error=%r", exc)
            return None
        finally:
            self._ws, self._ready = None, False
            self._fail_pending()
        if code == 4401:
            await self._transport.refresh(stale=token)
        if code in FINAL_CLOSE_CODES:
            return code
        return -1 if reached_ready else code

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        reached_ready = False
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                frame = json.loads(message.data)
            except ValueError:
                log.warning("ws_frame_not_json")
                continue
            if not isinstance(frame, dict):
                continue
            if frame.get("type") == "ready":
                self._ready = reached_ready = True
                self._emit(ConnectionChanged(state="ready"))
            if not self._answer(frame):
                self._on_frame(frame)
        return reached_ready

    def _answer(self, frame: dict[str, Any]) -> bool:
        """Resolve a waiting ``send``; True if the frame was an answer (or needs no handling)."""
        kind = frame.get("type")
        if kind == "pong":
            return True
        if kind not in ("accepted", "error"):
            return False
        message_id = frame.get("message_id")
        future = self._pending.pop(message_id, None) if isinstance(message_id, str) else None
        if future is not None and not future.done():
            future.set_result(frame)
        elif kind == "error":
            log.warning("ws_error_frame code=%s detail=%s", frame.get("code"), frame.get("detail"))
        return True

    async def send_envelope(self, conversation_id: str, envelope: dict[str, Any]) -> SendAccepted:
        """The ``send`` frame path; errors arrive as the same exceptions as over HTTP."""
        ws = self._ws
        if ws is None or not self.ready:
            raise aiohttp.ClientConnectionError("the socket is not ready")
        message_id = envelope["message_id"]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = future
        try:
            await ws.send_json(
                {"type": "send", "conversation_id": conversation_id, "envelope": envelope}
            )
            answer = await asyncio.wait_for(future, SEND_TIMEOUT)
        finally:
            self._pending.pop(message_id, None)
        if answer["type"] == "error":
            raise api_error(0, answer)
        return SendAccepted.model_validate(answer)

    async def send_frame(self, frame: dict[str, Any]) -> bool:
        """Best effort: a lost ack only means the server pushes or redelivers."""
        ws = self._ws
        if ws is None or ws.closed:
            return False
        try:
            await ws.send_json(frame)
        except (aiohttp.ClientError, ConnectionError, RuntimeError):
            return False
        return True

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _token_changed(self, token: str) -> None:
        """Re-authenticate the open socket before its token expires (API.md)."""
        task = asyncio.get_running_loop().create_task(
            self._send_quietly({"type": "auth", "access_token": token})
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_quietly(self, frame: dict[str, Any]) -> None:
        await self.send_frame(frame)

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(aiohttp.ClientConnectionError("the socket closed"))
        self._pending.clear()

    async def keep_token_fresh(self) -> None:
        """Refresh ahead of expiry while running; ``_token_changed`` forwards the result."""
        pause = 0.0
        while not self._closing:
            await asyncio.sleep(max(self._transport.seconds_until_refresh(), pause))
            try:
                await self._transport.access_token()
                pause = 0.0
            except (aiohttp.ClientError, OSError, TimeoutError, RetryLater):
                pause = min(max(pause * 2, 1.0), 30.0)
            except SessionExpired:
                return
