"""Coach-client pairs with real devices, senders over HTTP and receivers over WebSocket.

Envelopes are sealed and serialized before the measured interval (a device encrypts before it
sends), so the load generator's crypto does not compete with the services it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tools.api import Api, Session, device_keys_of, seal_for
from tools.stack import BOOTSTRAP_OPERATOR


@dataclass
class Pair:
    """One conversation: the client sends, the coach's device receives and acks."""

    conversation_id: str
    client: Session
    coach: Session
    devices: dict[str, bytes]
    bodies: list[bytes] = field(default_factory=list)

    def seal(self, count: int, tag: str) -> None:
        """`count` sealed envelopes as ready-to-send JSON bodies."""
        self.bodies = [
            json.dumps(
                {"envelope": seal_for(self.client, self.conversation_id, self.devices, f"{tag}{i}")}
            ).encode()
            for i in range(count)
        ]


@dataclass
class Tracker:
    """Send and delivery times by message id, in one monotonic clock."""

    sent: dict[str, float] = field(default_factory=dict)
    accepted: dict[str, float] = field(default_factory=dict)
    delivered: dict[str, float] = field(default_factory=dict)
    errors: dict[int, int] = field(default_factory=dict)
    frames: int = 0

    def latencies(self) -> list[tuple[float, float]]:
        """(delivered at, send→deliver seconds) of every delivered message sent here."""
        return sorted(
            (at, at - self.sent[mid]) for mid, at in self.delivered.items() if mid in self.sent
        )


def write_trace(tracker: Tracker, path: Path) -> None:
    """One JSON line per message sent: its id and when it was sent, accepted and delivered
    (Unix seconds, to line up with the services' log timestamps; null: never)."""
    offset = time.time() - time.monotonic()

    def wall(at: float | None) -> float | None:
        return None if at is None else round(at + offset, 6)

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for mid, sent in sorted(tracker.sent.items(), key=lambda item: item[1]):
            row = {
                "message_id": mid,
                "sent": wall(sent),
                "accepted": wall(tracker.accepted.get(mid)),
                "delivered": wall(tracker.delivered.get(mid)),
            }
            out.write(json.dumps(row) + "\n")


async def make_pairs(api: Api, count: int, tag: str) -> list[Pair]:
    operator = await api.login(*BOOTSTRAP_OPERATOR)
    pairs = []
    for n in range(count):
        coach = await api.onboard(operator, "coach", f"b{tag}coach{n}")
        client = await api.onboard(coach, "client", f"b{tag}client{n}")
        listed = await api.call("GET", "/v1/conversations", token=client.access_token)
        cid = listed.body["conversations"][0]["conversation_id"]
        devices = await device_keys_of(api, client, coach.account_id, client.account_id)
        pairs.append(Pair(cid, client, coach, devices))
    return pairs


async def refresh(api: Api, session: Session) -> None:
    """A fresh access token (they live five minutes; a bench run is longer)."""
    reply = await api.call("POST", "/v1/sessions/refresh", {"refresh_token": session.refresh_token})
    assert reply.status == 200, reply.body
    session.access_token = reply.body["access_token"]
    session.refresh_token = reply.body["refresh_token"]


class Receiver:
    """One device's socket: records every `message` frame and acks it."""

    def __init__(self, session: Session, tracker: Tracker) -> None:
        self.session = session
        self.tracker = tracker
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._ws_url = ""

    async def open(self, http: aiohttp.ClientSession, ws_url: str) -> None:
        self._http, self._ws_url = http, ws_url
        headers = {"Authorization": f"Bearer {self.session.access_token}"}
        self.ws = await http.ws_connect(ws_url, headers=headers, max_msg_size=0)
        first = await self.ws.receive_json(timeout=30)
        assert first["type"] == "ready", first
        self.task = asyncio.create_task(self._read())

    async def reauth(self) -> None:
        """The fresh token on the open socket; a socket the gateway closed meanwhile (its token
        expired: a loaded machine can take minutes between workloads) is opened again."""
        assert self.ws is not None
        if not self.ws.closed:
            with contextlib.suppress(aiohttp.ClientConnectionResetError):
                await self.ws.send_str(
                    json.dumps({"type": "auth", "access_token": self.session.access_token})
                )
                return
        if self._http is not None:  # closed, or closing under our feet
            await self.close()
            await self.open(self._http, self._ws_url)

    async def _read(self) -> None:
        assert self.ws is not None
        ws = self.ws
        async for msg in ws:
            tracker = self.tracker  # swapped between workloads
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            tracker.frames += 1
            frame = json.loads(msg.data)
            if frame.get("type") != "message":
                continue
            mid = frame["message"]["message_id"]
            tracker.delivered.setdefault(mid, time.monotonic())
            try:
                await ws.send_str(json.dumps({"type": "ack", "message_id": mid}))
            except aiohttp.ClientConnectionResetError:
                return  # the gateway closed it (an expired token): `reauth` opens it again

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def post(
    http: aiohttp.ClientSession, base: str, pair: Pair, body: bytes, tracker: Tracker
) -> None:
    mid = json.loads(body)["envelope"]["message_id"]
    url = f"{base}/v1/conversations/{pair.conversation_id}/messages"
    headers = {
        "Authorization": f"Bearer {pair.client.access_token}",
        "Content-Type": "application/json",
    }
    tracker.sent[mid] = time.monotonic()
    async with http.post(url, data=body, headers=headers) as reply:
        await reply.read()
        if reply.status == 202:
            tracker.accepted[mid] = time.monotonic()
        else:
            tracker.errors[reply.status] = tracker.errors.get(reply.status, 0) + 1
            tracker.sent.pop(mid, None)


def _bodies(pair: Pair) -> Iterator[bytes]:
    while pair.bodies:
        yield pair.bodies.pop()


async def flat_out(
    http: aiohttp.ClientSession,
    base: str,
    pairs: list[Pair],
    in_flight: int,
    seconds: float,
    tracker: Tracker,
) -> None:
    """`in_flight` sends outstanding per conversation, as fast as the answers come."""
    deadline = time.monotonic() + seconds

    async def worker(pair: Pair) -> None:
        for body in _bodies(pair):
            if time.monotonic() >= deadline:
                return
            await post(http, base, pair, body, tracker)

    await asyncio.gather(*(worker(p) for p in pairs for _ in range(in_flight)))


async def at_rate(
    http: aiohttp.ClientSession,
    base: str,
    pairs: list[Pair],
    rate: float,
    seconds: float,
    tracker: Tracker,
    max_in_flight: int = 256,
) -> int:
    """Open-loop sends at `rate`/s spread over the pairs; returns how many were skipped because
    `max_in_flight` were outstanding (the offered load the system did not keep up with)."""
    started = time.monotonic()
    pending: set[asyncio.Task[None]] = set()
    sent = skipped = 0
    while (now := time.monotonic()) - started < seconds:
        due = int((now - started) * rate) - sent - skipped
        for _ in range(due):
            pair = pairs[(sent + skipped) % len(pairs)]
            if len(pending) >= max_in_flight or not pair.bodies:
                skipped += 1
                continue
            task = asyncio.create_task(post(http, base, pair, pair.bodies.pop(), tracker))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
        await asyncio.sleep(0.002)
    if pending:
        await asyncio.gather(*pending)
    return skipped


async def drained(tracker: Tracker, timeout: float) -> None:
    """Until every accepted message was delivered, or `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(mid in tracker.delivered for mid in tracker.accepted):
            return
        await asyncio.sleep(0.05)


def rates(tracker: Tracker) -> dict[str, Any]:
    """Accepted/s and delivered/s over the span from the first send to the last event."""
    if not tracker.sent:
        return {"accepted_per_s": 0.0, "delivered_per_s": 0.0}
    first = min(tracker.sent.values())
    delivered = [t for mid, t in tracker.delivered.items() if mid in tracker.sent]
    accepted = list(tracker.accepted.values())
    span_a = (max(accepted) - first) if accepted else 0.0
    span_d = (max(delivered) - first) if delivered else 0.0
    return {
        "sent": len(tracker.sent),
        "accepted": len(accepted),
        "delivered": len(delivered),
        "errors": {str(k): v for k, v in tracker.errors.items()},
        "accepted_per_s": round(len(accepted) / span_a, 1) if span_a else 0.0,
        "delivered_per_s": round(len(delivered) / span_d, 1) if span_d else 0.0,
    }
