"""DeviceSocket: a slow client only ever fills its own bounded queue, then is closed."""

from __future__ import annotations

import asyncio
from typing import Any

from services.gateway.sockets.socket import CLOSE_OVERFLOW, SEND_QUEUE, DeviceSocket, Expected


class StuckWebSocket:
    """Our own stand-in for aiohttp's WebSocketResponse whose peer never reads."""

    def __init__(self) -> None:
        self.closed = False
        self.close_code: int | None = None
        self.sent: list[dict[str, Any]] = []
        self.unblock = asyncio.Event()

    async def send_json(self, frame: dict[str, Any]) -> None:
        await self.unblock.wait()
        self.sent.append(frame)

    async def close(self, *, code: int, message: bytes) -> None:
        self.closed, self.close_code = True, code

    async def ping(self) -> None:
        return None


async def test_overflowing_the_queue_closes_only_that_socket() -> None:
    missed: list[str] = []

    async def on_missed(_: DeviceSocket, expected: Expected) -> None:
        missed.append(expected.message_id)

    stuck = StuckWebSocket()
    socket = DeviceSocket(stuck, "acc", "dev", on_missed)  # type: ignore[arg-type]
    socket.start()
    socket.ready()
    for i in range(SEND_QUEUE + 5):
        socket.send({"type": "message", "n": i})
    await asyncio.sleep(0)
    assert socket.closing
    await asyncio.sleep(0.01)
    assert stuck.close_code == CLOSE_OVERFLOW
    await socket.finish()


async def test_unacked_messages_are_reported_when_the_socket_finishes() -> None:
    async def on_missed(_: DeviceSocket, expected: Expected) -> None:
        raise AssertionError("the 10 s deadline has not passed")

    socket = DeviceSocket(StuckWebSocket(), "acc", "dev", on_missed)  # type: ignore[arg-type]
    socket.start()
    socket.expect_ack(Expected("m1", "c1"))
    socket.expect_ack(Expected.of("m2", message_frame("m2", urgent=True, seq=7)))
    socket.acked("m1")
    # What delivery.failed then reports: the push it makes owed needs urgency and seq.
    assert await socket.finish() == [Expected("m2", "c1", urgent=True, seq=7)]


async def test_a_missed_ack_reports_the_frames_urgency_and_seq() -> None:
    missed: list[Expected] = []

    async def on_missed(_: DeviceSocket, expected: Expected) -> None:
        missed.append(expected)

    socket = DeviceSocket(StuckWebSocket(), "acc", "dev", on_missed, ack_deadline=0.01)  # type: ignore[arg-type]
    socket.expect_ack(Expected.of("m3", message_frame("m3", urgent=False, seq=3)))
    await asyncio.sleep(0.05)
    assert missed == [Expected("m3", "c1", urgent=False, seq=3)]
    # A frame without them (never sent by notification) is still reported, with neither.
    assert Expected.of("m4", {"type": "message"}) == Expected("m4", "")


def message_frame(message_id: str, *, urgent: bool, seq: int) -> dict[str, Any]:
    item = {"message_id": message_id, "conversation_id": "c1", "urgent": urgent, "seq": seq}
    return {"type": "message", "message": item}


async def test_a_socket_whose_token_expires_without_reauth_closes_with_4401() -> None:
    import time

    from services.gateway.edge.websocket import CLOSE_UNAUTHENTICATED

    async def on_missed(*_: object) -> None:
        return None

    stuck = StuckWebSocket()
    socket = DeviceSocket(stuck, "acc", "dev", on_missed)  # type: ignore[arg-type]
    socket.expires_at = int(time.time()) + 60
    socket.tick(time.monotonic(), time.time())  # the registry's sweep, about once a second
    await asyncio.sleep(0.01)
    assert stuck.close_code is None  # a token with time left keeps its socket
    socket.tick(time.monotonic(), socket.expires_at)
    await asyncio.sleep(0.01)
    assert stuck.close_code == CLOSE_UNAUTHENTICATED


async def test_ready_is_the_first_frame_even_when_deliveries_arrive_while_binding() -> None:
    async def on_missed(*_: object) -> None:
        return None

    ws = StuckWebSocket()
    ws.unblock.set()
    socket = DeviceSocket(ws, "acc", "dev", on_missed)  # type: ignore[arg-type]
    socket.start()
    socket.send({"type": "devices_changed", "account_id": "acc"})
    socket.ready()
    await asyncio.sleep(0.01)
    assert [f["type"] for f in ws.sent] == ["ready", "devices_changed"]
    await socket.finish()


async def test_the_sweep_pings_every_20_seconds_and_closes_a_socket_that_stopped_answering() -> (
    None
):
    import time

    from services.gateway.sockets.socket import PING_EVERY

    async def on_missed(*_: object) -> None:
        return None

    pinged: list[float] = []
    stuck = StuckWebSocket()

    async def ping() -> None:
        pinged.append(time.monotonic())

    stuck.ping = ping  # type: ignore[method-assign]
    socket = DeviceSocket(stuck, "acc", "dev", on_missed)  # type: ignore[arg-type]
    start = time.monotonic()
    socket.tick(start + 1, time.time())
    await asyncio.sleep(0.01)
    assert pinged == []  # not due yet
    socket.tick(start + PING_EVERY + 1, time.time())
    await asyncio.sleep(0.01)
    assert len(pinged) == 1 and stuck.close_code is None
    socket.pong()
    socket.tick(start + 2 * PING_EVERY + 2, time.time())
    await asyncio.sleep(0.01)
    assert len(pinged) == 2 and stuck.close_code is None  # it answered: still open
    socket.tick(start + 5 * PING_EVERY, time.time())  # two pongs missed since
    await asyncio.sleep(0.01)
    assert stuck.close_code == 1001
