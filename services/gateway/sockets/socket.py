"""One device's WebSocket: a bounded outgoing queue, ack deadlines, liveness pings."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from shared.frames import MessageFrame, Ready, ServerFrame

log = structlog.get_logger(__name__)

SEND_QUEUE = 256
ACK_DEADLINE = 10.0
PING_EVERY = 20.0
CLOSE_EXPIRED = 4401  # the access token expired without a fresh `auth` frame
CLOSE_OVERFLOW = 1013  # try again later: the device resyncs on reconnect
FLUSH_BEFORE_CLOSE = 2.0  # seconds a sign-out waits for the frames queued before it


def socket_id_now() -> str:
    """The time-ordered prefix of socket ids: every socket opened later sorts after it."""
    return f"{time.time_ns():020d}"


@dataclass(frozen=True)
class Expected:
    """A message frame awaiting the device's ack: what `delivery.failed` reports if none comes."""

    message_id: str
    conversation_id: str
    urgent: bool | None = None
    seq: int | None = None

    @classmethod
    def of(cls, message_id: str, frame: MessageFrame) -> Expected:
        item = frame.message
        return cls(message_id, item.conversation_id, item.urgent, item.seq)


OnAckMissed = Callable[["DeviceSocket", Expected], Coroutine[Any, Any, None]]


class DeviceSocket:
    """Writes never block the caller: a slow client fills only its own queue, then is closed."""

    def __init__(
        self,
        *,
        ws: web.WebSocketResponse,
        account_id: str,
        device_id: str,
        on_ack_missed: OnAckMissed,
        ack_deadline: float = ACK_DEADLINE,
    ) -> None:
        self._ack_deadline = ack_deadline
        self.ws = ws
        self.account_id = account_id
        self.device_id = device_id
        # Sortable by connect time, so replicas agree on which of two racing sockets is newer.
        self.socket_id = f"{socket_id_now()}-{uuid.uuid4().hex[:12]}"
        self.expires_at = 0
        self.session = 0
        self._queue: asyncio.Queue[ServerFrame] = asyncio.Queue(SEND_QUEUE)
        self._acks: dict[str, tuple[asyncio.TimerHandle, Expected]] = {}
        self._on_ack_missed = on_ack_missed
        self._last_pong = self._pinged_at = time.monotonic()
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self.closing = False
        self.close_code: int | None = None  # the code the gateway chose, not the client's echo
        self._early: list[ServerFrame] | None = []

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def start(self) -> None:
        """One task of its own (the writer): pings and token expiry come from `tick`, which the
        registry calls for every socket about once a second (two tasks less per idle socket)."""
        self._tasks = [asyncio.create_task(self._writer())]

    def send(self, frame: ServerFrame) -> None:
        if self.closing:
            return
        if self._early is not None and len(self._early) < SEND_QUEUE:
            self._early.append(frame)  # routed while binding: follows `ready`
            return
        if self._early is None:
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(frame)
                return
        log.warning("socket_overflow", device_id=self.device_id)
        self.close_soon(CLOSE_OVERFLOW, "too slow")

    def ready(self) -> None:
        """`ready` is always the first frame; deliveries routed during binding follow it."""
        early, self._early = self._early or [], None
        self.send(Ready())
        for frame in early:
            self.send(frame)

    def expect_ack(self, expected: Expected) -> None:
        if expected.message_id in self._acks:
            return
        loop = asyncio.get_running_loop()
        handle = loop.call_later(self._ack_deadline, self._ack_missed, expected)
        self._acks[expected.message_id] = (handle, expected)

    def acked(self, message_id: str) -> None:
        entry = self._acks.pop(message_id, None)
        if entry is not None:
            entry[0].cancel()

    def pong(self) -> None:
        self._last_pong = time.monotonic()

    def _ack_missed(self, expected: Expected) -> None:
        self._acks.pop(expected.message_id, None)
        self._spawn(self._on_ack_missed(self, expected))

    def close_soon(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            self.close_code = code
            self._spawn(self.ws.close(code=code, message=reason.encode()))

    def close_when_sent(self, code: int, reason: str) -> None:
        """Close once the frames queued before now are written (a sign-out after the frame that
        says why, e.g. a password reset); nothing queued later is written."""
        if not self.closing:
            self.closing = True
            self.close_code = code
            self._spawn(self._close_after_queue(code, reason))

    async def _close_after_queue(self, code: int, reason: str) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FLUSH_BEFORE_CLOSE):
                await self._queue.join()
        await self.ws.close(code=code, message=reason.encode())

    async def _writer(self) -> None:
        while True:
            frame = await self._queue.get()
            try:
                await self.ws.send_str(frame.text())
            except (ConnectionError, RuntimeError):
                return
            finally:
                self._queue.task_done()

    def tick(self, now: float, wall: float) -> None:
        """Close the socket once its token expired (no fresh `auth` came) or it missed two pongs
        in a row; ping it every 20 s. `now` is monotonic, `wall` is Unix time."""
        if self.closing or self.ws.closed:
            return
        if self.expires_at and wall >= self.expires_at:
            self.close_soon(CLOSE_EXPIRED, "access token expired")
            return
        if now - self._pinged_at < PING_EVERY:
            return
        self._pinged_at = now
        if now - self._last_pong > 2 * PING_EVERY + 5:
            log.info("socket_dead", device_id=self.device_id)
            self.close_soon(1001, "no pong")
            return
        self._spawn(self._ping())

    async def _ping(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.ping()

    async def finish(self) -> list[Expected]:
        """Stop the tasks; returns the deliveries that were never acked (they count as failed)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._background:  # let a close handshake finish before the connection goes
            await asyncio.wait(self._background, timeout=5)
        pending = []
        for handle, expected in self._acks.values():
            handle.cancel()
            pending.append(expected)
        self._acks.clear()
        return pending
