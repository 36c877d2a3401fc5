"""SDK-driven devices for e2e tests: each one a real HavenClient with its own keystore."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp

from haven_client import HavenClient, Keystore
from haven_client.events import ConnectionChanged, Event, InvalidMessage, ReceivedMessage
from haven_client.keystore import KdfParams
from tools.api import Api, Session

PASSPHRASE = "test keystore passphrase"
COACH_PASSWORD, CLIENT_PASSWORD = "coach-password-1", "client-password-1"


@dataclass
class Answer:
    """One HTTP answer the SDK got, as it saw it on the wire."""

    method: str
    path: str
    status: int
    body: bytearray = field(default_factory=bytearray)

    @property
    def code(self) -> str | None:
        try:
            parsed: Any = json.loads(self.body)
        except ValueError:
            return None
        return parsed.get("code") if isinstance(parsed, dict) else None


class HttpLog:
    """Records every answer of an SDK client's HTTP session (an aiohttp trace hook): what
    the SDK handles silently, a test can still see."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []

    def trace_config(self) -> aiohttp.TraceConfig:
        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(self._ended)
        trace.on_response_chunk_received.append(self._chunk)
        return trace

    async def _ended(
        self, _: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        ctx.answer = Answer(params.method, params.url.path, params.response.status)
        self.answers.append(ctx.answer)

    async def _chunk(
        self,
        _: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceResponseChunkReceivedParams,
    ) -> None:
        answer = getattr(ctx, "answer", None)
        if answer is not None:
            answer.body += params.chunk

    def to(self, method: str, path: str) -> list[Answer]:
        return [a for a in self.answers if a.method == method and a.path == path]


@dataclass
class SdkDevice:
    name: str
    client: HavenClient
    events: list[Event] = field(default_factory=list)
    http_log: HttpLog = field(default_factory=HttpLog)
    _pump: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _http: aiohttp.ClientSession | None = None

    @classmethod
    async def create(cls, base_url: str, directory: Path, name: str) -> SdkDevice:
        store = await Keystore.create(
            directory / f"{name}.keystore", PASSPHRASE, KdfParams.minimal()
        )
        http_log = HttpLog()
        http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30), trace_configs=[http_log.trace_config()]
        )
        return cls(name, HavenClient(base_url, store, http=http), http_log=http_log, _http=http)

    def listen(self) -> None:
        self._pump = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for event in self.client.events():
            self.events.append(event)
            self._changed.set()

    async def wait_for(self, predicate: Callable[[list[Event]], bool], timeout: float = 20) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self.events):
                self._changed.clear()
                await self._changed.wait()

    async def connect(self) -> None:
        ready = sum(isinstance(e, ConnectionChanged) and e.state == "ready" for e in self.events)
        await self.client.connect()
        await self.wait_for(
            lambda evs: (
                sum(isinstance(e, ConnectionChanged) and e.state == "ready" for e in evs) > ready
            )
        )

    def received(self) -> list[ReceivedMessage]:
        return [e for e in self.events if isinstance(e, ReceivedMessage)]

    def invalid(self) -> list[InvalidMessage]:
        return [e for e in self.events if isinstance(e, InvalidMessage)]

    def bodies(self) -> list[str]:
        """Message bodies in seq order, one per message_id (the SDK dedupes; we check it)."""
        seen = {m.message_id: m for m in self.received()}
        assert len(seen) == len(self.received()), f"{self.name} got a duplicate"
        return [m.body or "" for m in sorted(seen.values(), key=lambda m: m.seq)]

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await self.client.close()
        if self._http is not None:
            await self._http.close()


@contextlib.asynccontextmanager
async def coach_and_client(
    api: Api,
    operator: Session,
    base_url: str,
    directory: Path,
    handles: tuple[str, str],
    *,
    names: tuple[str | None, str | None] = (None, None),
    device_names: tuple[str | None, str | None] = (None, None),
) -> AsyncIterator[tuple[SdkDevice, SdkDevice, str]]:
    """A coach (invited by the operator) and their client (invited by the coach through the
    SDK), each signed in on a connected device that records its events; yields both devices
    and their conversation id, and closes both afterwards. ``None`` names: the defaults."""
    coach = await SdkDevice.create(base_url, directory, "coach")
    client = await SdkDevice.create(base_url, directory, "client")
    try:
        code = await api.invite(operator, "coach")
        await coach.client.register(handles[0], COACH_PASSWORD, code, names[0])
        await coach.client.login(handles[0], COACH_PASSWORD, device_name=device_names[0])
        code = (await coach.client.create_invite("client")).code
        await client.client.register(handles[1], CLIENT_PASSWORD, code, names[1])
        await client.client.login(handles[1], CLIENT_PASSWORD, device_name=device_names[1])
        [conversation] = await client.client.conversations()
        await coach.client.conversations()
        for device in (coach, client):
            device.listen()
            await device.connect()
        yield coach, client, conversation.conversation_id
    finally:
        await coach.close()
        await client.close()
