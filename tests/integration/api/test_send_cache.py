"""The gateway checks sends against cached relationships and device sets: every change is
seen by the very next send on the replica that made it, and by other replicas once its event
arrives (services/gateway/directory.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.api import Api, Reply, Session, device_keys_of, seal_for
from tests.support.inprocess import AppStack
from tests.support.stack import BOOTSTRAP_OPERATOR

EVENT_BOUND = 5.0  # seconds for an event to reach another replica on a loaded machine


async def _pair(api: Api, tag: str) -> tuple[Session, Session, str]:
    operator = await api.login(*BOOTSTRAP_OPERATOR)
    coach = await api.onboard(operator, "coach", f"coach_cache_{tag}")
    client = await api.onboard(coach, "client", f"client_cache_{tag}")
    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    return coach, client, listed.body["conversations"][0]["conversation_id"]


async def _send(api: Api, who: Session, cid: str, devices: dict[str, bytes]) -> Reply:
    body = {"envelope": seal_for(who, cid, devices)}
    return await api.call("POST", f"/v1/conversations/{cid}/messages", body, who.access_token)


async def test_a_cached_device_set_follows_logins_and_revocations_at_once(api: Api) -> None:
    coach, client, cid = await _pair(api, "local")
    devices = await device_keys_of(api, client, coach.account_id, client.account_id)
    assert (await _send(api, client, cid, devices)).status == 202  # the sets are cached now
    laptop = await api.login(coach.handle, coach.password, name="laptop")
    stale = await _send(api, client, cid, devices)
    assert (stale.status, stale.body["missing_devices"]) == (409, [laptop.device_id])
    with_laptop = {**devices, laptop.device_id: laptop.keys.kx_public}
    assert (await _send(api, client, cid, with_laptop)).status == 202
    revoked = await api.call("DELETE", f"/v1/devices/{laptop.device_id}", token=coach.access_token)
    assert revoked.status == 204
    refused = await _send(api, client, cid, with_laptop)
    assert (refused.status, refused.body["extra_devices"]) == (409, [laptop.device_id])
    assert (await _send(api, client, cid, devices)).status == 202
    # The revoked device itself is refused at once as well.
    from_laptop = await _send(api, laptop, cid, with_laptop)
    assert from_laptop.status == 401


async def test_a_cached_relationship_that_ends_refuses_the_next_send(api: Api) -> None:
    coach, client, cid = await _pair(api, "ended")
    devices = await device_keys_of(api, client, coach.account_id, client.account_id)
    assert (await _send(api, client, cid, devices)).status == 202
    ended = await api.call("POST", f"/v1/conversations/{cid}/end", token=coach.access_token)
    assert ended.status == 200
    reply = await _send(api, client, cid, devices)
    assert (reply.status, reply.code) == (409, "conflict")


@pytest.fixture
async def apis(app_stack: AppStack) -> AsyncIterator[tuple[Api, Api]]:
    """Clients of two gateway replicas."""
    second = await app_stack.start_extra("gateway", "b")
    async with aiohttp.ClientSession() as http:
        yield Api(http, app_stack.gateway_url), Api(http, app_stack.health_url(second))


async def _until(attempt: Any, accepted: int) -> Reply:
    """Repeat a request the replica refuses (changing nothing) until it answers `accepted`."""
    deadline = time.monotonic() + EVENT_BOUND
    while True:
        reply: Reply = await attempt()
        if reply.status == accepted or time.monotonic() > deadline:
            return reply
        await asyncio.sleep(0.05)


async def test_another_replica_forgets_its_cached_sets_when_the_events_arrive(
    apis: tuple[Api, Api],
) -> None:
    a, b = apis
    coach, client, cid = await _pair(a, "replicas")
    devices = await device_keys_of(a, client, coach.account_id, client.account_id)
    assert (await _send(b, client, cid, devices)).status == 202  # b caches both sets
    laptop = await a.login(coach.handle, coach.password, name="laptop")  # through a
    with_laptop = {**devices, laptop.device_id: laptop.keys.kx_public}
    reply = await _until(lambda: _send(b, client, cid, with_laptop), 202)
    assert reply.status == 202, reply.body
    revoked = await a.call("DELETE", f"/v1/devices/{laptop.device_id}", token=coach.access_token)
    assert revoked.status == 204
    reply = await _until(lambda: _send(b, client, cid, devices), 202)
    assert reply.status == 202, reply.body
    await a.call("POST", f"/v1/conversations/{cid}/end", token=coach.access_token)
    reply = await _until(lambda: _send(b, client, cid, devices), 409)
    assert (reply.status, reply.code) == (409, "conflict")
