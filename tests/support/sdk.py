"""SDK-driven devices for e2e tests: each one a real HavenClient with its own keystore."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from haven_client import HavenClient, Keystore
from haven_client.events import ConnectionChanged, Event, InvalidMessage, ReceivedMessage
from haven_client.keystore import KdfParams

PASSPHRASE = "test keystore passphrase"


@dataclass
class SdkDevice:
    name: str
    client: HavenClient
    events: list[Event] = field(default_factory=list)
    _pump: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def create(cls, base_url: str, directory: Path, name: str) -> SdkDevice:
        store = await Keystore.create(
            directory / f"{name}.keystore", PASSPHRASE, KdfParams.minimal()
        )
        return cls(name, HavenClient(base_url, store))

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
