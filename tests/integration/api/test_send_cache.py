"""The gateway checks sends against cached relationships and device sets: every change is
seen by the very next send on the replica that made it, and by other replicas once its event
arrives (services/gateway/stores/directory.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.support.inprocess import AppStack
from tools.api import Api, Reply, Session, device_keys_of, seal_for
from tools.stack import BOOTSTRAP_OPERATOR

EVENT_BOUND = 5.0  # seconds for an event to reach another replica on a loaded machine

# One stack for this module's tests (tests/support/sharing.py); each has accounts of its own.
SHARED_STACK: dict[str, str] = {}


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
    """Clients of two gateway replicas; the second one stops after the test."""
    second = await app_stack.start_extra("gateway", "b")
    try:
        async with aiohttp.ClientSession() as http:
            yield Api(http, app_stack.gateway_url), Api(http, app_stack.health_url(second))
    finally:
        await app_stack.stop(second)


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


@pytest.mark.fresh_stack  # it publishes an agreement: every later send would need consent
async def test_pause_resume_and_consent_changes_reach_the_cached_checks_on_every_replica(
    apis: tuple[Api, Api],
) -> None:
    a, b = apis
    coach, client, cid = await _pair(a, "safety")
    operator = await a.login(*BOOTSTRAP_OPERATOR)
    devices = await device_keys_of(a, client, coach.account_id, client.account_id)
    for api in (a, b):  # both replicas cache the relationship and "no agreement published"
        assert (await _send(api, client, cid, devices)).status == 202

    pause = {"reason": "a week away", "resume_on": None}
    paused = await a.call("POST", f"/v1/conversations/{cid}/pause", pause, coach.access_token)
    assert paused.status == 200, paused.body
    here = await _send(a, client, cid, devices)
    assert (here.status, here.code) == (409, "paused")  # the replica that paused: at once
    there = await _until(lambda: _send(b, client, cid, devices), 409)
    assert (there.status, there.code) == (409, "paused")
    resumed = await a.call("POST", f"/v1/conversations/{cid}/resume", token=coach.access_token)
    assert resumed.status == 200, resumed.body
    assert (await _send(a, client, cid, devices)).status == 202
    assert (await _until(lambda: _send(b, client, cid, devices), 202)).status == 202

    v1 = {"version": "v1", "text": "How we message."}
    assert (await a.call("PUT", "/v1/admin/agreement", v1, operator.access_token)).status == 200
    here = await _send(a, client, cid, devices)
    assert (here.status, here.code) == (403, "consent_required")
    there = await _until(lambda: _send(b, client, cid, devices), 403)
    assert (there.status, there.code) == (403, "consent_required")
    accept = await b.call("POST", "/v1/agreement/accept", {"version": "v1"}, client.access_token)
    assert accept.status == 200, accept.body
    assert (await _send(b, client, cid, devices)).status == 202
    assert (await _until(lambda: _send(a, client, cid, devices), 202)).status == 202
    withdrawn = await a.call("POST", "/v1/agreement/withdraw", token=client.access_token)
    assert withdrawn.status in (200, 204)
    here = await _send(a, client, cid, devices)
    assert (here.status, here.code) == (403, "consent_required")
    there = await _until(lambda: _send(b, client, cid, devices), 403)
    assert (there.status, there.code) == (403, "consent_required")
