"""The gateway logs the close code it chose (issue 25 item 4): a socket closed for persisting
past its frame budget is remembered as 4429, whatever the peer echoes back (aiohttp's client
answers a close with 1000, which `ws.close_code` then reports)."""

from __future__ import annotations

import asyncio
from typing import Any

from services.gateway.model.rates import Rate
from services.gateway.sockets.budget import CLOSE_RATE_LIMITED, STRIKES, FrameLimiter
from services.gateway.sockets.socket import DeviceSocket


class EchoingWebSocket:
    """Records what aiohttp's server side would report after the client's echo: 1000."""

    def __init__(self) -> None:
        self.closed = False
        self.close_code: int | None = None
        self.sent: list[dict[str, Any]] = []
        self.chosen: int | None = None

    async def send_json(self, frame: dict[str, Any]) -> None:
        self.sent.append(frame)

    async def close(self, *, code: int, message: bytes) -> None:
        self.chosen, self.closed, self.close_code = code, True, 1000

    async def ping(self) -> None:
        return None


async def test_a_socket_closed_for_its_budget_remembers_4429_not_the_echo() -> None:
    async def on_missed(*_: object) -> None:
        return None

    peer = EchoingWebSocket()
    socket = DeviceSocket(peer, "acc", "dev", on_missed)  # type: ignore[arg-type]
    socket.start()
    socket.ready()
    limiter = FrameLimiter(Rate.parse("1/minute,1"))
    allowed = [limiter.allow(socket) for _ in range(STRIKES + 1)]
    await asyncio.sleep(0.01)

    assert allowed.count(True) == 1
    assert peer.chosen == CLOSE_RATE_LIMITED and peer.close_code == 1000
    assert socket.close_code == CLOSE_RATE_LIMITED  # what `socket_closed` logs
    await socket.finish()
