"""Push subscriptions, notification settings and coach availability through the gateway, the
way a companion app uses them, with the notification service behind it; and one whole
journey: a message to an offline coach reaches a real push receiver, signed and content-free."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from tests.integration.api.test_websocket import coach_and_client
from tests.support.inprocess import AppStack
from tests.support.localhttp import serving_posts
from tools.api import Api, Session, seal_for

SECRET = "s" * 40
WEEKDAYS_ALL_DAY = [
    {"day": d, "start": "00:00", "end": "24:00"}
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
]


# One stack for this module's tests (tests/support/sharing.py), with this environment.
SHARED_STACK: dict[str, str] = {
    "HAVEN_PUSH_INSECURE_ALLOW_LOOPBACK": "1",
    "HAVEN_PUSH_ALLOWED_HOSTS": "127.0.0.1,push.example.org",
    "HAVEN_PUSH_COLLAPSE_SECONDS": "1",
    "HAVEN_PUSH_SWEEP_SECONDS": "0.2",
}


@dataclass
class Receiver:
    """A push relay on 127.0.0.1 that records what it is sent."""

    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    box = Receiver(url="")

    async def push(request: web.Request) -> web.Response:
        box.received.append((dict(request.headers), await request.read()))
        box.arrived.set()
        return web.Response(status=204)

    async with serving_posts("/push", push) as port:
        box.url = f"http://127.0.0.1:{port}/push"
        yield box


def auth(session: Session) -> dict[str, str]:
    return {"Authorization": f"Bearer {session.access_token}"}


async def test_a_device_registers_reads_and_removes_its_push_gateway(
    api: Api, operator: Session, app_stack: AppStack, receiver: Receiver
) -> None:
    coach, client, _, _ = await coach_and_client(api, operator, "push")
    path = f"/v1/devices/{coach.device_id}/push"
    body = {"url": receiver.url, "secret": SECRET}
    put = await api.call("PUT", path, body, coach.access_token)
    assert put.status == 200 and put.body["set"] is True
    got = await api.call("GET", path, token=coach.access_token)
    assert got.body["set"] is True and SECRET not in json.dumps(got.body)
    # Someone else's device: as if it did not exist.
    assert (await api.call("PUT", path, body, client.access_token)).status == 404
    assert (await api.call("DELETE", path, token=coach.access_token)).status == 204
    assert (await api.call("GET", path, token=coach.access_token)).body["set"] is False


@pytest.mark.parametrize(
    ("url", "field_name"),
    [
        ("https://evil.example.net/push", "url"),  # not on the allowlist
        ("https://user:pw@push.example.org/push", "url"),  # credentials in the URL
        ("ftp://push.example.org/push", "url"),
    ],
)
async def test_push_urls_off_the_rules_are_422_naming_the_field(
    api: Api, operator: Session, app_stack: AppStack, url: str, field_name: str
) -> None:
    reply = await api.call(
        "PUT",
        f"/v1/devices/{operator.device_id}/push",
        {"url": url, "secret": SECRET},
        operator.access_token,
    )
    assert reply.status == 422, reply.body
    assert [e["field"] for e in reply.body["errors"]] == [field_name]
    assert "pw" not in json.dumps(reply.body)


async def test_notification_settings_round_trip_and_bypass_is_for_coaches(
    api: Api, operator: Session, app_stack: AppStack
) -> None:
    coach, client, _, _ = await coach_and_client(api, operator, "quiet")
    default = await api.call("GET", "/v1/me/notification-settings", token=client.access_token)
    assert default.body == {
        "time_zone": "UTC",
        "quiet_hours": None,
        "urgent_bypass": False,
        "urgent_while_paused": False,  # a coach's choice, off by default
    }
    quiet = {
        "time_zone": "Europe/Berlin",
        "quiet_hours": {"start": "21:00", "end": "08:00"},
        "urgent_bypass": False,
        "urgent_while_paused": False,
    }
    put = await api.call("PUT", "/v1/me/notification-settings", quiet, client.access_token)
    assert put.status == 200 and put.body == quiet
    bypass = {**quiet, "urgent_bypass": True}
    refused = await api.call("PUT", "/v1/me/notification-settings", bypass, client.access_token)
    assert refused.status == 422
    allowed = await api.call("PUT", "/v1/me/notification-settings", bypass, coach.access_token)
    assert allowed.status == 200 and allowed.body["urgent_bypass"] is True
    told = {**quiet, "urgent_while_paused": True}
    refused = await api.call("PUT", "/v1/me/notification-settings", told, client.access_token)
    assert refused.status == 422  # clients cannot turn it on for themselves
    bad_zone = await api.call(
        "PUT",
        "/v1/me/notification-settings",
        {**quiet, "time_zone": "Mars/Olympus"},
        coach.access_token,
    )
    assert bad_zone.status == 422


async def test_a_coach_sets_availability_and_a_connected_client_reads_it(
    api: Api, operator: Session, app_stack: AppStack
) -> None:
    coach, client, _, _ = await coach_and_client(api, operator, "avail")
    availability = {
        "time_zone": "Europe/Berlin",
        "weekly": WEEKDAYS_ALL_DAY,
        "response_time_hours": 24,
        "away_message": "I read messages in my working hours.",
        "away": None,
    }
    put = await api.call("PUT", "/v1/me/availability", availability, coach.access_token)
    assert put.status == 200, put.body
    seen = await api.call(
        "GET", f"/v1/accounts/{coach.account_id}/availability", token=client.access_token
    )
    assert seen.status == 200
    assert seen.body["available_now"] is True and seen.body["response_time_hours"] == 24
    assert (
        await api.call("PUT", "/v1/me/availability", availability, client.access_token)
    ).status == 403
    outsider = await api.onboard(operator, "coach", "coach_outsider")
    hidden = await api.call(
        "GET", f"/v1/accounts/{coach.account_id}/availability", token=outsider.access_token
    )
    assert hidden.status == 404
    no_backup_answer = {
        **availability,
        "away": {"from": "2026-12-01T00:00:00Z", "until": "2026-12-08T00:00:00Z", "message": "x"},
    }
    missing = await api.call("PUT", "/v1/me/availability", no_backup_answer, coach.access_token)
    assert missing.status == 422


async def test_a_message_to_an_offline_coach_becomes_one_signed_content_free_push(
    api: Api, operator: Session, app_stack: AppStack, receiver: Receiver
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "offline")
    put = await api.call(
        "PUT",
        f"/v1/devices/{coach.device_id}/push",
        {"url": receiver.url, "secret": SECRET},
        coach.access_token,
    )
    assert put.status == 200
    text = "a sentence that must never reach a push relay"
    envelope = seal_for(client, cid, devices, text)
    sent = await api.call(
        "POST", f"/v1/conversations/{cid}/messages", {"envelope": envelope}, client.access_token
    )
    assert sent.status == 202
    async with asyncio.timeout(20):
        await receiver.arrived.wait()
    await asyncio.sleep(1.5)  # anything more for this burst would have arrived by now
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert json.loads(body) == {"event": "new_message", "conversation_id": cid, "unread": 1}
    timestamp = headers["X-Haven-Timestamp"]
    signed = f"{timestamp}.{headers['X-Haven-Delivery']}.".encode() + body
    expected = hmac.new(SECRET.encode(), signed, hashlib.sha256)
    assert headers["X-Haven-Delivery-Signature"] == f"sha256={expected.hexdigest()}"
    assert headers["X-Haven-Delivery"]
    assert text.encode() not in body and envelope["ciphertext"].encode() not in body
