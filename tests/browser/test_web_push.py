"""Web Push in Haven Web: nothing is subscribed on first load; after the user opts in (Settings
→ Notifications) the subscription reaches the gateway; a push delivered to the service worker
(CDP `ServiceWorker.deliverPushMessage`) shows a content-free notice tagged by conversation;
turning it off and signing out delete the subscription.

Chromium here refuses `pushManager.subscribe` ("Registration failed - permission denied", with
the notifications and push permissions granted: it has no push service to register with), so
`PushManager.prototype.subscribe` / `getSubscription` are replaced in the page by a stand-in
that records the options it was given and returns a PushSubscription-shaped object with real
P-256 keys and a 127.0.0.1 endpoint (the development loopback switch admits it). The service
worker, its registration, the permission prompt and the notifications are Chromium's own."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from playwright.async_api import BrowserContext, CDPSession, Page, expect

from tests.browser.conftest import NewContext
from tests.browser.support import app
from tests.browser.support.people import People, password_for
from tests.support.webpush import Browser, unb64url
from tools.api import Api, Session

TURN_ON = "Turn on notifications"
TURN_OFF = "Turn off notifications"


@pytest.fixture(scope="module")
def web_overrides() -> dict[str, str]:
    """Web Push on (the session's shared stack has it: conftest.py SHARED_OVERRIDES)."""
    return {
        "HAVEN_VAPID_SUBJECT": "mailto:operator@haven.example",
        "HAVEN_PUSH_INSECURE_ALLOW_LOOPBACK": "1",  # the stand-in subscription's endpoint
    }


STAND_IN = """
(() => {
  const subscription = {
    endpoint: "http://127.0.0.1:9/push/haven-web",
    expirationTime: null,
    toJSON() { return { endpoint: this.endpoint, expirationTime: null, keys: KEYS }; },
    async unsubscribe() { window.__havenPush.subscribed = false; return true; },
  };
  window.__havenPush = { subscribed: false, options: null };
  PushManager.prototype.subscribe = async function (options) {
    const key = options.applicationServerKey;
    window.__havenPush.options = {
      userVisibleOnly: options.userVisibleOnly,
      key: Array.from(new Uint8Array(key.buffer ?? key)),
    };
    window.__havenPush.subscribed = true;
    return subscription;
  };
  PushManager.prototype.getSubscription = async function () {
    return window.__havenPush.subscribed ? subscription : null;
  };
})();
"""


async def browser_device(api: Api, coach: Session) -> str:
    """The device Haven Web registered (the coach's other device is the API's)."""
    async with asyncio.timeout(20):
        while True:
            reply = await api.call(
                "GET", f"/v1/accounts/{coach.account_id}/devices", token=coach.access_token
            )
            ids = [
                d["device_id"] for d in reply.body["devices"] if d["device_id"] != coach.device_id
            ]
            if ids:
                return str(ids[-1])
            await asyncio.sleep(0.2)


async def push_status(api: Api, coach: Session, device: str) -> dict[str, Any]:
    reply = await api.call("GET", f"/v1/devices/{device}/push", token=coach.access_token)
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.body
    return body


async def open_settings(page: Page) -> None:
    await (
        page.get_by_role("link", name="Settings")
        .or_(page.get_by_role("button", name="Settings"))
        .first.click()
    )
    await expect(page.get_by_role("heading", name="Notifications")).to_be_visible(timeout=20_000)


async def signed_in_coach(
    new_context: NewContext, people: People, app_url: str
) -> tuple[BrowserContext, Page, Session]:
    coach = await people.coach(name="Coach Robin")
    context = await new_context(permissions=["notifications"])
    keys = Browser().subscription("")["keys"]
    await context.add_init_script(STAND_IN.replace("KEYS", json.dumps(keys)))
    page = await context.new_page()
    await app.sign_in(page, app_url, coach.handle, password_for(coach.handle))
    await app.accept_agreement(page)
    return context, page, coach


async def registration_id(cdp: CDPSession) -> str:
    found: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def seen(event: dict[str, Any]) -> None:
        for registration in event.get("registrations", []):
            if registration["scopeURL"].endswith("/app/") and not found.done():
                found.set_result(registration["registrationId"])

    cdp.on("ServiceWorker.workerRegistrationUpdated", seen)
    await cdp.send("ServiceWorker.enable")
    return await asyncio.wait_for(found, 10)


async def notifications(page: Page) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = await page.evaluate(
        """async () => {
            const registration = await navigator.serviceWorker.getRegistration('/app/');
            const list = await registration.getNotifications();
            return list.map((n) => ({title: n.title, body: n.body, tag: n.tag}));
        }"""
    )
    return shown


async def test_opting_in_subscribes_and_the_worker_shows_a_content_free_notice(
    new_context: NewContext, people: People, app_url: str, api: Api
) -> None:
    context, page, coach = await signed_in_coach(new_context, people, app_url)
    device = await browser_device(api, coach)
    assert await push_status(api, coach, device) == {"set": False}  # never on first load
    assert await page.evaluate("() => Notification.permission") == "granted"

    await open_settings(page)
    assert await push_status(api, coach, device) == {"set": False}  # not until asked
    await page.get_by_role("button", name=TURN_ON).click()
    await expect(page.get_by_role("button", name=TURN_OFF)).to_be_visible(timeout=20_000)
    status = await push_status(api, coach, device)
    assert status == {"set": True, "kind": "webpush", "host": "127.0.0.1"}
    asked = await page.evaluate("() => window.__havenPush.options")
    vapid = (await api.call("GET", "/v1/push/vapid")).body["public_key"]
    assert asked == {"userVisibleOnly": True, "key": list(unb64url(vapid))}

    cdp = await context.new_cdp_session(page)
    origin = app_url.removesuffix("/app/")
    payload = {"event": "new_message", "conversation_id": "conv-xyz", "unread": 3}
    registration = await registration_id(cdp)
    shown: list[dict[str, Any]] = []
    async with asyncio.timeout(30):
        while not shown:
            # DevTools' stand-in for a push service is a hook, not a queue: a push it hands over
            # while the worker is being restarted can be dropped (seen under load), so it is
            # handed over again until a notice shows; one tag, so a second push replaces it.
            await cdp.send(
                "ServiceWorker.deliverPushMessage",
                {"origin": origin, "registrationId": registration, "data": json.dumps(payload)},
            )
            for _ in range(50):
                shown = await notifications(page)
                if shown:
                    break
                await asyncio.sleep(0.1)
    assert shown == [{"title": "Haven", "body": "3 new messages", "tag": "conversation:conv-xyz"}]

    await page.get_by_role("button", name=TURN_OFF).click()
    await expect(page.get_by_role("button", name=TURN_ON)).to_be_visible(timeout=20_000)
    assert await push_status(api, coach, device) == {"set": False}


async def test_signing_out_deletes_the_subscription(
    new_context: NewContext, people: People, app_url: str, api: Api
) -> None:
    _, page, coach = await signed_in_coach(new_context, people, app_url)
    device = await browser_device(api, coach)
    await open_settings(page)
    await page.get_by_role("button", name=TURN_ON).click()
    await expect(page.get_by_role("button", name=TURN_OFF)).to_be_visible(timeout=20_000)
    assert (await push_status(api, coach, device))["set"] is True

    await page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=20_000)
    # Sign-out erases the device's keys, so it revokes the device, and its subscription goes
    # with it (tests/integration/test_push_delivery.py shows subscriptions leave with devices).
    gone = await api.call("GET", f"/v1/devices/{device}/push", token=coach.access_token)
    assert gone.status == 404, gone.body
    record = await api.call("GET", f"/v1/devices/{device}", token=coach.access_token)
    assert record.status == 200 and record.body["revoked_at"] is not None, record.body
