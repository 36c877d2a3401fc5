"""A socket's frame budget: excess frames get an `error` frame; persisting closes with 4429."""

from __future__ import annotations

import time
from collections import deque

from services.gateway import copy
from services.gateway.model.rates import LocalBucket, Rate
from services.gateway.sockets.socket import DeviceSocket

CLOSE_RATE_LIMITED = 4429
STRIKES = 5  # rate-limited answers within STRIKE_WINDOW before the socket is closed
STRIKE_WINDOW = 60.0


class FrameLimiter:
    """Per socket and in memory: a socket lives on one replica, so its budget does too.

    Sends are also limited per account across replicas (the gateway's `Limits`); a send
    refused by that limit counts as a strike here as well.
    """

    def __init__(self, rate: Rate) -> None:
        self._bucket = LocalBucket(rate)
        self._strikes: deque[float] = deque()

    def allow(self, socket: DeviceSocket) -> bool:
        decision = self._bucket.take(time.monotonic())
        if decision.allowed:
            return True
        socket.send(
            {
                "type": "error",
                "code": "rate_limited",
                "detail": copy.WS_SLOW_DOWN,
                "retry_after": decision.retry_after,
            }
        )
        self.strike(socket)
        return False

    def strike(self, socket: DeviceSocket) -> None:
        now = time.monotonic()
        self._strikes.append(now)
        while self._strikes and now - self._strikes[0] > STRIKE_WINDOW:
            self._strikes.popleft()
        if len(self._strikes) >= STRIKES:
            socket.close_soon(CLOSE_RATE_LIMITED, "rate limited")
