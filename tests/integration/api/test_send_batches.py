"""Sends that come together travel to messaging together (shared/command_lanes.py), through the
running services as a companion app sends: each concurrent send is answered 202 only once the
broker confirmed the message that carried it, every one is stored exactly once with its own
seq, the coach reads them all, and fewer command messages crossed the broker than sends."""

from __future__ import annotations

import asyncio
import re

from tests.support.inprocess import AppStack
from tools.api import Api, Session, coach_and_client, seal_for

SENDS = 24

# One stack for this module's tests (tests/support/sharing.py).
SHARED_STACK: dict[str, str] = {}


async def command_messages(api: Api, app_stack: AppStack) -> float:
    """AMQP messages published to the commands exchange so far (one metric per process: the
    in-process services share it, and only the gateway sends commands)."""
    async with api.http.get(f"{app_stack.ops_url}/metrics") as response:
        text = await response.text()
    found = re.search(r'^haven_bus_published_total\{exchange="haven.commands"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def test_concurrent_sends_travel_together_and_each_is_stored_once(
    api: Api, operator: Session, app_stack: AppStack
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "batches")
    path = f"/v1/conversations/{cid}/messages"
    envelopes = [seal_for(client, cid, devices, f"message {i}") for i in range(SENDS)]
    before = await command_messages(api, app_stack)

    replies = await asyncio.gather(
        *(api.call("POST", path, {"envelope": e}, client.access_token) for e in envelopes)
    )

    assert [r.status for r in replies] == [202] * SENDS
    published = await command_messages(api, app_stack) - before
    assert 1 <= published < SENDS

    async def history() -> list[dict[str, object]]:
        page = await api.call("GET", f"{path}?after_seq=0", token=coach.access_token)
        assert page.status == 200
        return list(page.body["messages"])

    async with asyncio.timeout(15):
        while len(messages := await history()) < SENDS:
            await asyncio.sleep(0.1)
    assert sorted(str(m["message_id"]) for m in messages) == sorted(
        str(e["message_id"]) for e in envelopes
    )
    assert [m["seq"] for m in messages] == list(range(1, SENDS + 1))
    await asyncio.sleep(0.3)
    assert len(await history()) == SENDS  # nothing stored twice
