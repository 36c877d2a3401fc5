"""Web Push through the running services, to a push service on 127.0.0.1 (the development
switch): the subscription, RFC 8291 payloads the browser's keys decrypt, RFC 8292 VAPID tokens
that verify under `GET /v1/push/vapid`, TTL / Urgency / Topic, no content, 410 and retries, and
the leading-edge collapse."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.push_world import nothing_left_to_push
from tests.support.inprocess import AppStack
from tests.support.webpush import Browser, PushService, push_service, unb64url, vapid_claims
from tools.api import Api, Session, coach_and_client, seal_for

SUBJECT = "mailto:operator@haven.example"
WINDOW = 3.0


@pytest.fixture
def stack_overrides() -> dict[str, str]:
    return {
        "HAVEN_PUSH_INSECURE_ALLOW_LOOPBACK": "1",
        "HAVEN_PUSH_ALLOWED_HOSTS": "relay.example.org",
        "HAVEN_VAPID_SUBJECT": SUBJECT,
        "HAVEN_PUSH_COLLAPSE_SECONDS": str(WINDOW),
        "HAVEN_PUSH_RETRY_DELAYS": "0.5,1",
    }


@pytest.fixture
async def service() -> AsyncIterator[PushService]:
    async with push_service() as running:
        yield running


@pytest.fixture
def notification_db(mongo_client: Any, stack_environment: dict[str, str]) -> Any:
    return mongo_client[f"{stack_environment['HAVEN_DB_PREFIX']}_notification"]


async def subscribe(api: Api, session: Session, body: dict[str, Any]) -> Any:
    return await api.call(
        "PUT", f"/v1/devices/{session.device_id}/push", body, session.access_token
    )


async def send(
    api: Api, sender: Session, cid: str, devices: dict[str, bytes], text: str, **options: Any
) -> None:
    envelope = seal_for(sender, cid, devices, text, **options)
    reply = await api.call(
        "POST", f"/v1/conversations/{cid}/messages", {"envelope": envelope}, sender.access_token
    )
    assert reply.status == 202, reply.body


async def test_a_push_decrypts_verifies_and_holds_no_content(
    api: Api, operator: Session, app_stack: AppStack, service: PushService
) -> None:
    vapid = await api.call("GET", "/v1/push/vapid")  # no auth
    assert vapid.status == 200
    public_key = vapid.body["public_key"]
    assert "=" not in public_key and unb64url(public_key)[0] == 4
    assert len(unb64url(public_key)) == 65
    spec = (await api.call("GET", "/v1/openapi.json")).body
    assert "get" in spec["paths"]["/v1/push/vapid"]
    assert "PushSubscription" in spec["components"]["schemas"]

    coach, client, cid, devices = await coach_and_client(api, operator, "webpush")
    browser = Browser()
    put = await subscribe(api, coach, browser.subscription(service.endpoint("coach")))
    assert put.status == 200, put.body
    assert put.body == {"set": True, "kind": "webpush", "host": "127.0.0.1"}
    got = await api.call("GET", f"/v1/devices/{coach.device_id}/push", token=coach.access_token)
    assert got.body == {"set": True, "kind": "webpush", "host": "127.0.0.1"}
    assert browser.p256dh not in json.dumps(got.body)

    text = "a sentence no push service may ever see"
    started = time.monotonic()
    await send(api, client, cid, devices, text)
    [push] = await service.wait_for("coach", 1, timeout=10)
    print(f"\nfirst Web Push of a quiet conversation: {push.at - started:.3f} s after the send")

    assert browser.decrypt(push.body) == {
        "event": "new_message",
        "conversation_id": cid,
        "unread": 1,
    }
    assert text.encode() not in push.body
    claims = vapid_claims(push.headers["Authorization"], public_key)
    assert claims["aud"] == f"http://127.0.0.1:{service.port}"
    assert claims["sub"] == SUBJECT
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    assert push.headers["Content-Encoding"] == "aes128gcm"
    assert push.headers["TTL"] == "86400"
    assert push.headers["Urgency"] == "normal"
    topic = push.headers["Topic"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", topic) and cid not in topic

    # An urgent message: Urgency high (it does not wait for the window the first push opened).
    await send(api, client, cid, devices, "urgent", urgent=True)
    urgent = (await service.wait_for("coach", 2, timeout=10))[1]
    assert urgent.headers["Urgency"] == "high"
    assert urgent.headers["Topic"] == topic  # one topic per conversation
    assert browser.decrypt(urgent.body)["urgent"] is True


async def test_a_burst_of_ten_gives_two_web_pushes(
    api: Api,
    operator: Session,
    app_stack: AppStack,
    service: PushService,
    notification_db: Any,
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "wpburst")
    browser = Browser()
    assert (await subscribe(api, coach, browser.subscription(service.endpoint("b")))).status == 200
    started = time.monotonic()
    await send(api, client, cid, devices, "m0")
    await service.wait_for("b", 1, timeout=WINDOW)
    # The other nine at once, so that all fall in the first window even on a busy machine.
    await asyncio.gather(*(send(api, client, cid, devices, f"m{n}") for n in range(1, 10)))
    assert time.monotonic() - started < WINDOW
    pushes = await service.wait_for("b", 2, timeout=WINDOW + 10)
    # Fence: every message is pushed and nothing is held or in flight: no third push can come.
    await nothing_left_to_push(
        notification_db, coach.device_id, lambda: app_stack.log_lines("notification")
    )
    print(f"\nburst of 10 by Web Push: at {[round(p.at - started, 3) for p in pushes]} s")
    assert len(service.of("b")) == 2
    assert [browser.decrypt(p.body)["unread"] for p in pushes] == [1, 10]
    assert pushes[1].at - pushes[0].at >= WINDOW * 0.8


async def test_410_removes_the_subscription_and_a_retry_carries_the_same_body(
    api: Api, operator: Session, app_stack: AppStack, service: PushService
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "wpgone")
    browser = Browser()
    flaky = browser.subscription(service.endpoint("flaky", "503,201"))
    assert (await subscribe(api, coach, flaky)).status == 200
    await send(api, client, cid, devices, "one")
    first, retried = await service.wait_for("flaky", 2, timeout=15)
    assert (first.status, retried.status) == (503, 201)
    assert first.body != retried.body  # encrypted afresh (a new salt and key each time)
    assert browser.decrypt(first.body) == browser.decrypt(retried.body)

    gone = browser.subscription(service.endpoint("gone", "410"))
    assert (await subscribe(api, coach, gone)).status == 200
    # Urgent, so that it does not wait for the window the first push opened.
    await send(api, client, cid, devices, "two", urgent=True)
    await service.wait_for("gone", 1, timeout=10)
    path = f"/v1/devices/{coach.device_id}/push"
    async with asyncio.timeout(10):
        while (await api.call("GET", path, token=coach.access_token)).body["set"]:
            await asyncio.sleep(0.1)
    # Fence: the 410 was handled (the subscription went, not a retry of it).
    await app_stack.wait_for_log("notification", event="push_subscription_gone")
    retries = [
        line for line in app_stack.log_lines("notification") if line["event"] == "push_retry"
    ]
    assert len(retries) == 1  # the 503's, none for the 410
    assert len(service.of("gone")) == 1  # not retried


async def test_subscriptions_are_checked_and_sealed(
    api: Api,
    operator: Session,
    app_stack: AppStack,
    service: PushService,
    notification_db: Any,
) -> None:
    coach, _, _, _ = await coach_and_client(api, operator, "wpcheck")
    browser = Browser()
    good = browser.subscription(service.endpoint("c"))

    async def refused(body: dict[str, Any]) -> list[str]:
        reply = await subscribe(api, coach, body)
        assert reply.status == 422, reply.body
        return [e["field"] for e in reply.body["errors"]]

    assert await refused({**good, "endpoint": "https://relay.example.org/x"}) == ["endpoint"]
    assert await refused({**good, "endpoint": "https://push.evil.example/x"}) == ["endpoint"]
    assert await refused({**good, "endpoint": "https://10.0.0.1/x"}) == ["endpoint"]
    assert await refused({**good, "keys": {"p256dh": "AAAA", "auth": good["keys"]["auth"]}}) == [
        "keys.p256dh"
    ]
    short_auth = {"p256dh": good["keys"]["p256dh"], "auth": "AAAA"}
    assert await refused({**good, "keys": short_auth}) == ["keys.auth"]
    assert await refused({**good, "secret": "s" * 40}) == ["body"]
    assert await refused({"kind": "webpush", "endpoint": good["endpoint"]}) == ["body"]

    assert (await subscribe(api, coach, good)).status == 200
    stored = await notification_db["push_subscriptions"].find_one({"_id": coach.device_id})
    text = json.dumps(stored, default=str)
    assert good["keys"]["p256dh"] not in text and good["keys"]["auth"] not in text
    assert browser.auth not in bytes(stored["secret"])
