"""Leading-edge collapse through the running services: the first push of a quiet conversation
leaves at once, and a burst within the window gives exactly one more, carrying the count."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from tests.integration.api.test_notifications_api import SECRET, Receiver, receiver
from tests.integration.push_world import nothing_left_to_push
from tests.support.inprocess import AppStack
from tools.api import Api, Session, coach_and_client, seal_for

__all__ = ["receiver"]  # the fixture, shared with test_notifications_api

WINDOW = 3.0  # the collapse window, shortened from 30 s


@pytest.fixture
def stack_overrides() -> dict[str, str]:
    return {
        "HAVEN_PUSH_INSECURE_ALLOW_LOOPBACK": "1",
        "HAVEN_PUSH_ALLOWED_HOSTS": "127.0.0.1",
        "HAVEN_PUSH_COLLAPSE_SECONDS": str(WINDOW),
    }


async def send(api: Api, sender: Session, cid: str, devices: dict[str, bytes], n: int) -> None:
    envelope = seal_for(sender, cid, devices, f"message {n}")
    reply = await api.call(
        "POST", f"/v1/conversations/{cid}/messages", {"envelope": envelope}, sender.access_token
    )
    assert reply.status == 202, reply.body


async def arrivals(receiver: Receiver, count: int, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while len(receiver.received) < count:
            receiver.arrived.clear()
            await receiver.arrived.wait()


async def test_the_first_push_leaves_at_once_and_a_burst_of_ten_gives_two(
    api: Api,
    operator: Session,
    app_stack: AppStack,
    receiver: Receiver,
    mongo_client: Any,
    stack_environment: dict[str, str],
) -> None:
    notification_db = mongo_client[f"{stack_environment['HAVEN_DB_PREFIX']}_notification"]
    coach, client, cid, devices = await coach_and_client(api, operator, "leading")
    put = await api.call(
        "PUT",
        f"/v1/devices/{coach.device_id}/push",
        {"url": receiver.url, "secret": SECRET},
        coach.access_token,
    )
    assert put.status == 200

    started = time.monotonic()
    await send(api, client, cid, devices, 0)
    await arrivals(receiver, 1, timeout=10)
    first = time.monotonic() - started
    print(f"\nfirst push of a quiet conversation: {first:.3f} s after the send")
    assert json.loads(receiver.received[0][1])["unread"] == 1

    # Wait out the window the first push opened: the burst starts a conversation gone quiet.
    await asyncio.sleep(WINDOW + 0.5)
    receiver.received.clear()
    burst_started = time.monotonic()
    for n in range(1, 11):
        await send(api, client, cid, devices, n)
        if n == 1:
            await arrivals(receiver, 1, timeout=WINDOW)  # the burst's first leaves at once
            first_at = time.monotonic() - burst_started
    burst_took = time.monotonic() - burst_started
    assert burst_took < WINDOW, "the burst must fit in the window for this test to mean much"
    await arrivals(receiver, 2, timeout=WINDOW + 10)
    second_at = time.monotonic() - burst_started
    # Fence: every message is pushed and nothing is held or in flight: no third push can come.
    await nothing_left_to_push(
        notification_db, coach.device_id, lambda: app_stack.log_lines("notification")
    )
    bodies = [json.loads(body) for _, body in receiver.received]
    print(
        f"burst of 10: {len(bodies)} pushes, at {first_at:.3f} s and {second_at:.3f} s "
        f"after the first send"
    )
    assert len(bodies) == 2
    assert bodies[0]["unread"] == 2  # the burst's first message, at once
    assert bodies[1]["unread"] == 11  # the other nine, with the count, at the window's end
    assert second_at >= WINDOW * 0.9
