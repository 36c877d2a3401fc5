"""Helpers that set up a coach and a client through the fake, and wait on SDK events."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from haven_client import Backoff, Event, HavenClient, KdfParams, Keystore
from tests.sdk_fakes.server import FakeHaven
from tests.sdk_fakes.state import FakeState

PASSWORD = "a long enough password"
PASSPHRASE = "keystore passphrase"
E = TypeVar("E")


async def new_keystore(path: Path) -> Keystore:
    return await Keystore.create(path, PASSPHRASE, KdfParams.minimal())


def new_client(fake: FakeHaven, store: Keystore, **options: Any) -> HavenClient:
    """Fast back-off and retries, so reconnect tests take milliseconds; ``options`` go to
    ``HavenClient`` (``time_zone``, ``clock``)."""
    return HavenClient(fake.url, store, backoff=Backoff(0.02, 0.2), retry_delay=0.05, **options)


@dataclasses.dataclass
class Pair:
    fake: FakeHaven
    coach: HavenClient
    client: HavenClient
    conversation_id: str
    coach_account_id: str
    client_account_id: str
    tmp_path: Path

    async def another_device(self, who: str, name: str) -> HavenClient:
        """Log the same account in on a second device (its own keystore)."""
        device = new_client(self.fake, await new_keystore(self.tmp_path / f"{name}.keystore"))
        await device.login(who, PASSWORD, device_name=name)
        return device


@contextlib.asynccontextmanager
async def coach_and_client(
    tmp_path: Path,
    state: FakeState | None = None,
    *,
    coach_name: str | None = None,
    **client_options: Any,
) -> AsyncIterator[Pair]:
    """A coach (display name ``coach_name``) and their client, both logged in;
    ``client_options`` go to the client's ``HavenClient``."""
    async with FakeHaven.running(state) as fake:
        operator = fake.bootstrap_operator()
        coach = new_client(fake, await new_keystore(tmp_path / "coach.keystore"))
        client = new_client(
            fake, await new_keystore(tmp_path / "client.keystore"), **client_options
        )
        try:
            coach_account = await coach.register(
                "coach", PASSWORD, fake.invite("coach", operator), coach_name
            )
            client_account = await client.register(
                "client", PASSWORD, fake.invite("client", coach_account.account_id), "Client"
            )
            await coach.login("coach", PASSWORD, device_name="coach-laptop")
            await client.login("client", PASSWORD, device_name="client-phone")
            (conversation,) = await client.conversations()
            yield Pair(
                fake,
                coach,
                client,
                conversation.conversation_id,
                coach_account.account_id,
                client_account.account_id,
                tmp_path,
            )
        finally:
            await client.close()
            await coach.close()


async def next_event(
    client: HavenClient, kind: type[E], *, timeout: float = 5.0, skip: bool = True
) -> E:
    """The next event of ``kind``; other kinds are skipped (or fail the test if not ``skip``)."""
    async with asyncio.timeout(timeout):
        async for event in client.events():
            if isinstance(event, kind):
                return event
            assert skip, f"unexpected event {event!r}"
    raise AssertionError("events() ended")


async def collect(
    client: HavenClient, count: int, *, timeout: float = 5.0, keep: Callable[[Event], bool]
) -> list[Event]:
    found: list[Event] = []
    async with asyncio.timeout(timeout):
        async for event in client.events():
            if keep(event):
                found.append(event)
                if len(found) == count:
                    return found
    raise AssertionError("events() ended")


async def quiet(
    client: HavenClient, *, seconds: float, keep: Callable[[Event], bool]
) -> list[Event]:
    """Everything matching ``keep`` that arrives within ``seconds`` (for "nothing more" checks)."""
    found: list[Event] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async for event in client.events():
                if keep(event):
                    found.append(event)
    return found
