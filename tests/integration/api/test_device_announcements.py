"""`devices_changed`: only to relationships that have not ended, debounced per account; key
history is bounded; revoking twice is silent.

No test waits for "nothing more arrives" by the clock: each waits for notification to have
handled the device events it caused (their log lines carry the request's X-Request-Id), for
the account's debounce state to be settled, then for a marker delivery published after that
to reach the socket (one gateway queue delivers in order): what is not there by then is not
coming."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from haven_crypto import crypto
from shared.bus import Bus
from shared.deliveries import DeviceDelivery, publish_delivery
from shared.events import utcnow
from shared.frames import DevicesChanged
from shared.topology import Topology
from tests.support.inprocess import AppStack
from tests.support.messaging import driver_bus
from tests.support.ws import next_frame, ws_url
from tools.api import Api, DeviceKeys, Session, coach_and_client
from tools.infra import Infra

WINDOW = 1.0  # HAVEN_DEVICES_CHANGED_WINDOW_SECONDS (2 s by default)
# An announcement is published a moment after it is claimed: one claimed this long ago is out.
CLAIMED_AND_SENT = 0.5
SETTLE_TIMEOUT = 15.0

# One stack for this module's tests (tests/support/sharing.py), with this environment.
SHARED_STACK: dict[str, str] = {"HAVEN_DEVICES_CHANGED_WINDOW_SECONDS": str(WINDOW)}


@pytest.fixture
async def driver(infra: Infra, clean_broker: Topology) -> AsyncIterator[Bus]:
    async with driver_bus(infra.amqp_url, clean_broker) as bus:
        yield bus


def changes_of(frames: list[dict[str, Any]], account_id: str) -> int:
    return sum(f == {"type": "devices_changed", "account_id": account_id} for f in frames)


def request_id() -> dict[str, str]:
    return {"X-Request-Id": f"ann-{uuid.uuid4().hex}"}


async def rotate(api: Api, who: Session, headers: dict[str, str] | None = None) -> int:
    keys = DeviceKeys(identity=who.keys.identity)
    body = {
        "kx_key": crypto.b64e(keys.kx_public),
        "kx_signature": crypto.b64e(crypto.sign_kx(keys.identity, who.handle, keys.kx_public)),
    }
    reply = await api.call(
        "PUT", f"/v1/devices/{who.device_id}/kx", body, who.access_token, headers=headers
    )
    return reply.status


async def login(api: Api, who: Session, name: str, headers: dict[str, str]) -> Session:
    return await api.login(who.handle, who.password, name=name, headers=headers)


async def handled(app_stack: AppStack, *requests: dict[str, str]) -> None:
    """Notification has handled the device event of each request (announced or debounced)."""
    for headers in requests:
        await app_stack.wait_for_log(
            "notification",
            timeout=SETTLE_TIMEOUT,
            event="event_handled",
            correlation_id=headers["X-Request-Id"],
        )


async def settled(
    mongo_client: AsyncMongoClient[Any],
    isolation: tuple[str, str],
    account_id: str,
    *,
    quiet_for: float = CLAIMED_AND_SENT,
) -> datetime:
    """Once the account's handled changes are all announced: no trailing announcement is owed
    and the last one was claimed `quiet_for` seconds ago (so it went out). Its claim time."""
    announcements = mongo_client[f"{isolation[1]}_notification"]["device_announcements"]
    async with asyncio.timeout(SETTLE_TIMEOUT):
        while True:
            doc = await announcements.find_one({"_id": account_id})
            if doc is not None and not doc.get("dirty"):
                announced_at: datetime = doc["announced_at"]
                if announced_at <= utcnow() - timedelta(seconds=quiet_for):
                    return announced_at
            await asyncio.sleep(0.05)


async def flushed(
    bus: Bus, ws: aiohttp.ClientWebSocketResponse, device_id: str
) -> list[dict[str, Any]]:
    """The frames that reach the socket before a marker delivery published now: everything
    published to this device before (the gateway's delivery queue hands them over in order)."""
    marker = f"fence-{uuid.uuid4().hex}"
    delivery = DeviceDelivery(
        delivery_id=marker,
        device_id=device_id,
        kind="frame",
        frame=DevicesChanged(account_id=marker),
    )
    assert await publish_delivery(bus, delivery)
    seen = []
    async with asyncio.timeout(SETTLE_TIMEOUT):
        while (frame := await next_frame(ws)) != {"type": "devices_changed", "account_id": marker}:
            seen.append(frame)
    return seen


async def test_counterparts_of_an_ended_relationship_hear_nothing_of_new_devices(
    api: Api,
    operator: Session,
    app_stack: AppStack,
    driver: Bus,
    mongo_client: AsyncMongoClient[Any],
    isolation: tuple[str, str],
) -> None:
    coach, ended_client, cid, _ = await coach_and_client(api, operator, "ann")
    current_client = await api.onboard(coach, "client", "client_ann2")
    async with (
        api.http.ws_connect(ws_url(app_stack), headers=_auth(ended_client)) as ended_ws,
        api.http.ws_connect(ws_url(app_stack), headers=_auth(current_client)) as current_ws,
    ):
        assert await next_frame(ended_ws) == {"type": "ready"}
        assert await next_frame(current_ws) == {"type": "ready"}
        end = await api.call("POST", f"/v1/conversations/{cid}/end", token=coach.access_token)
        assert end.status < 300
        frame = await next_frame(ended_ws)  # the notification service has seen the end
        assert frame["type"] == "relationship" and frame["status"] == "ended"
        new_laptop = request_id()
        await login(api, coach, "new laptop", new_laptop)
        await handled(app_stack, new_laptop)
        await settled(mongo_client, isolation, coach.account_id)
        current_frames = await flushed(driver, current_ws, current_client.device_id)
        ended_frames = await flushed(driver, ended_ws, ended_client.device_id)
    assert changes_of(current_frames, coach.account_id) == 1
    assert changes_of(ended_frames, coach.account_id) == 0


async def test_a_burst_of_changes_is_announced_at_once_and_once_more_after_the_window(
    api: Api,
    operator: Session,
    app_stack: AppStack,
    driver: Bus,
    mongo_client: AsyncMongoClient[Any],
    isolation: tuple[str, str],
) -> None:
    coach, client, _, _ = await coach_and_client(api, operator, "burst")
    async with api.http.ws_connect(ws_url(app_stack), headers=_auth(client)) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        # The window opened by the coach's own login passes: the next change goes at once.
        await settled(mongo_client, isolation, coach.account_id, quiet_for=WINDOW)
        await flushed(driver, ws, client.device_id)
        burst = [request_id() for _ in range(4)]
        assert [await rotate(api, coach, headers) for headers in burst] == [204] * 4
        await handled(app_stack, *burst)
        await settled(mongo_client, isolation, coach.account_id)
        seen = await flushed(driver, ws, client.device_id)
    assert changes_of(seen, coach.account_id) == 2


async def test_key_history_is_bounded_and_a_second_revoke_is_silent(
    api: Api,
    operator: Session,
    app_stack: AppStack,
    driver: Bus,
    mongo_client: AsyncMongoClient[Any],
    isolation: tuple[str, str],
) -> None:
    coach, client, _, _ = await coach_and_client(api, operator, "hist")
    for _ in range(20):
        assert await rotate(api, coach) == 204
    detail = await api.call("GET", f"/v1/devices/{coach.device_id}", token=coach.access_token)
    assert len(detail.body["previous_kx_keys"]) == 16

    signed_in = request_id()
    laptop = await login(api, coach, "laptop", signed_in)
    path = f"/v1/devices/{laptop.device_id}"
    async with api.http.ws_connect(ws_url(app_stack), headers=_auth(client)) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        # The announcements of the rotations and the login pass, and their window ends.
        await handled(app_stack, signed_in)
        await settled(mongo_client, isolation, coach.account_id, quiet_for=WINDOW)
        await flushed(driver, ws, client.device_id)
        revoked = request_id()
        assert (
            await api.call("DELETE", path, token=coach.access_token, headers=revoked)
        ).status == 204
        await handled(app_stack, revoked)
        announced_at = await settled(mongo_client, isolation, coach.account_id)
        first = await flushed(driver, ws, client.device_id)
        assert (await api.call("DELETE", path, token=coach.access_token)).status == 204
        # A device event the gateway published after the second revoke's answer, handled by
        # notification: had the second revoke been announced (or debounced), the coach's
        # announcement state would show it by now.
        later = request_id()
        assert await rotate(api, client, later) == 204
        await handled(app_stack, later)
        assert await settled(mongo_client, isolation, coach.account_id) == announced_at
        second = await flushed(driver, ws, client.device_id)
    assert changes_of(first, coach.account_id) == 1
    assert changes_of(second, coach.account_id) == 0
    audit = mongo_client[f"{isolation[1]}_gateway"]["audit"]
    removals = await audit.count_documents(
        {"type": "device_removed", "device_id": laptop.device_id}
    )
    assert removals == 1


def _auth(session: Session) -> dict[str, str]:
    return {"Authorization": f"Bearer {session.access_token}"}
