"""The SDK world of the "history on a new device" tests: a coach and a client (whose
devices come and go) in one conversation, and the messages they exchange before a new
device arrives."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.inprocess import AppStack
from tests.support.sdk import CLIENT_PASSWORD, SdkDevice, coach_and_client
from tools.api import Api, Session


@dataclasses.dataclass
class World:
    coach: SdkDevice
    client: SdkDevice
    cid: str
    handle: str
    password: str
    tmp: Path
    url: str
    extra: list[SdkDevice] = dataclasses.field(default_factory=list)

    async def new_device(self, name: str) -> SdkDevice:
        """The client signing in on a brand-new device: no keystore, no keys, no history."""
        device = await SdkDevice.create(self.url, self.tmp, name)
        self.extra.append(device)
        await device.client.login(self.handle, self.password, device_name=name)
        return device


@pytest.fixture
async def world(
    api: Api, operator: Session, app_stack: AppStack, tmp_path: Path
) -> AsyncIterator[World]:
    """Kim (coach, on a laptop) and Sam (client, on an old phone), both connected; handles
    unique per test. Devices added with ``World.new_device`` are closed afterwards too."""
    tag = uuid.uuid4().hex[:8]
    handle, url = f"client_h{tag}", app_stack.gateway_url
    async with coach_and_client(
        api,
        operator,
        url,
        tmp_path,
        (f"coach_h{tag}", handle),
        names=("Kim", "Sam"),
        device_names=("Kim's laptop", "Sam's old phone"),
    ) as (coach, client, cid):
        w = World(coach, client, cid, handle, CLIENT_PASSWORD, tmp_path, url)
        try:
            yield w
        finally:
            for device in w.extra:
                await device.close()


async def stored(device: SdkDevice, cid: str, count: int) -> list[Any]:
    """The conversation's history once ``count`` messages are stored (sends are async)."""
    async with asyncio.timeout(20):
        while True:
            page, _ = await device.client.history(cid, after_seq=0, limit=100)
            if len(page) >= count:
                return page
            await asyncio.sleep(0.2)


async def exchange(w: World) -> None:
    """Before the new device: a normal message each way, an urgent one, and two sent while
    the client had no device online."""
    await w.coach.client.send_text(w.cid, "Welcome, Sam. Write whenever you like.")
    await w.client.client.send_text(w.cid, "Thank you, Kim.")
    await w.client.client.send(w.cid, {"type": "text", "body": "I need to talk now"}, urgent=True)
    await w.client.client.close_connection()  # the client's only device goes offline
    await w.coach.client.send_text(w.cid, "I'm here. Call the line below if it gets too much.")
    await w.coach.client.send_text(w.cid, "Checking in tomorrow morning.")
    await stored(w.coach, w.cid, 5)


BEFORE = [
    "Welcome, Sam. Write whenever you like.",
    "Thank you, Kim.",
    "I need to talk now",
    "I'm here. Call the line below if it gets too much.",
    "Checking in tomorrow morning.",
]
