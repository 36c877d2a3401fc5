"""No silent loss (issue #22): a device nearing expiry is told in advance — a `device_expiring`
frame and a calm, content-free push naming the date — and only then signed out; an account's
last (most recently seen) device is kept unless the operator's setting says otherwise. Through
the running services, with the expiry period shortened to seconds."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import pytest
from aiohttp import web
from pymongo import AsyncMongoClient

from tests.support.localhttp import serving_posts
from tests.support.ws import bearer, closed_with, frame_of_type, frames_for, next_frame, ws_url
from tools.api import Api, Session

DAY = 86400.0
EXPIRY, WARNING = 6.0, 3.0  # seconds
SHORT = {
    "HAVEN_DEVICE_EXPIRY_DAYS": str(EXPIRY / DAY),
    "HAVEN_DEVICE_EXPIRY_WARNING_DAYS": str(WARNING / DAY),
    "HAVEN_PUSH_INSECURE_ALLOW_LOOPBACK": "1",
    "HAVEN_PUSH_ALLOWED_HOSTS": "127.0.0.1",
}
SWEEP = 0.5  # the expiry sweep's pause for a period this short (gateway/background.py)
# A device refreshed every REFRESH seconds is never unseen long enough to be warned.
USED_EXPIRY, USED_WARNING, REFRESH = 3.0, 1.5, 0.5
USED = {
    **SHORT,
    "HAVEN_DEVICE_EXPIRY_DAYS": str(USED_EXPIRY / DAY),
    "HAVEN_DEVICE_EXPIRY_WARNING_DAYS": str(USED_WARNING / DAY),
}


@pytest.mark.parametrize("stack_overrides", [SHORT])
async def test_a_device_is_warned_then_signed_out_and_the_last_one_is_kept(
    api: Api, operator: Session, app_stack: object, mongo_client: AsyncMongoClient,
    isolation: tuple[str, str], stack_overrides: dict[str, str],
) -> None:  # fmt: skip
    coach = await api.onboard(operator, "coach", "coach_exp")
    phone = await api.onboard(coach, "client", "client_exp")
    laptop = await api.login(phone.handle, phone.password, name="laptop")  # seen last
    pushed: list[dict[str, object]] = []
    got_push = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        pushed.append(json.loads(await request.read()))
        got_push.set()
        return web.Response(status=204)

    async with serving_posts("/push", receive) as port:
        body = {"url": f"http://127.0.0.1:{port}/push", "secret": "s" * 40}
        registered = await api.call(
            "PUT", f"/v1/devices/{phone.device_id}/push", body, phone.access_token
        )
        assert registered.status == 200
        url = ws_url(app_stack)  # type: ignore[arg-type]
        async with (
            api.http.ws_connect(url, headers=bearer(phone.access_token)) as phone_ws,
            api.http.ws_connect(url, headers=bearer(laptop.access_token)) as laptop_ws,
        ):
            assert await next_frame(phone_ws) == {"type": "ready"}
            assert await next_frame(laptop_ws) == {"type": "ready"}
            warning = await frame_of_type(phone_ws, "device_expiring", timeout=EXPIRY)
            assert warning["device_id"] == phone.device_id
            due = datetime.fromisoformat(warning["expires_at"])
            await asyncio.wait_for(got_push.wait(), 10)
            assert await closed_with(phone_ws, timeout=EXPIRY + 5) == 4403  # signed out
            # The laptop is the account's most recently seen device: never warned, kept. It has
            # been unseen past the warning point since before the phone went; the sweep that
            # signed the phone out went on to it (they go by last seen), and two more sweeps
            # see it as the account's last device: a warning would be on its way by then.
            seen = await frames_for(laptop_ws, 2 * SWEEP + 0.5)
    assert [f for f in seen if f["type"] == "device_expiring"] == []
    assert pushed == [
        {
            "event": "device_expiring",
            "expires_at": warning["expires_at"],
            "text": f"This device will be signed out on {due.day} {due:%B %Y} unless it is"
            " used. Open Haven before then to keep it.",
        }
    ]
    assert (await api.call("GET", "/v1/me", token=phone.access_token)).status == 401
    me = await api.call("GET", "/v1/me", token=laptop.access_token)
    assert me.status == 200 and [d["device_id"] for d in me.body["devices"]] == [laptop.device_id]
    # Once per period: one warning, then the removal, at or after the announced date.
    audit = mongo_client[f"{isolation[1]}_gateway"]["audit"]
    warned = await audit.count_documents(
        {"type": "device_expiry_warned", "device_id": phone.device_id}
    )
    laptop_warned = {"type": "device_expiry_warned", "device_id": laptop.device_id}
    assert await audit.count_documents(laptop_warned) == 0  # at the source, too
    removed = await audit.find_one({"type": "device_removed", "device_id": phone.device_id})
    assert warned == 1 and removed is not None and removed["details"]["reason"] == "expired"
    assert removed["at"] >= due - timedelta(milliseconds=1)
    # The coach and the operator have one device each: kept, however long unseen.
    assert (await api.call("GET", "/v1/me", token=coach.access_token)).status == 200


@pytest.mark.parametrize("stack_overrides", [{**SHORT, "HAVEN_DEVICE_EXPIRY_LAST_DEVICE": "1"}])
async def test_with_the_setting_the_last_device_expires_too(
    api: Api, operator: Session, app_stack: object, stack_overrides: dict[str, str]
) -> None:
    coach = await api.onboard(operator, "coach", "coach_exp_last")
    url = ws_url(app_stack)  # type: ignore[arg-type]
    async with api.http.ws_connect(url, headers=bearer(coach.access_token)) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        warning = await frame_of_type(ws, "device_expiring", timeout=EXPIRY)
        assert warning["device_id"] == coach.device_id
        assert await closed_with(ws, timeout=EXPIRY + 5) == 4403
    assert (await api.call("GET", "/v1/me", token=coach.access_token)).status == 401
    # What expiry removes: the device for good — its identity key is never accepted again, so
    # the keystore must start a new device (and needs the recovery key or a link for history).
    again = await api.call(
        "POST",
        "/v1/sessions",
        {
            "handle": coach.handle,
            "password": coach.password,
            "device": coach.keys.block(coach.handle),
        },
    )
    assert (again.status, again.code) == (422, "bad_signature")
    fresh = await api.login(coach.handle, coach.password)
    assert fresh.device_id != coach.device_id


@pytest.mark.parametrize("stack_overrides", [USED])
async def test_a_device_that_is_used_starts_a_new_period(
    api: Api, operator: Session, app_stack: object, stack_overrides: dict[str, str]
) -> None:
    coach = await api.onboard(operator, "coach", "coach_exp_used")
    tablet = await api.login(coach.handle, coach.password, name="tablet")
    phone = await api.login(coach.handle, coach.password, keys=coach.keys)  # now seen last
    del phone
    # The tablet keeps refreshing (it is used): never warned, never signed out.
    refresh = tablet.refresh_token
    for _ in range(int((USED_EXPIRY + USED_WARNING) / REFRESH)):  # past its expiry and warning
        reply = await api.call("POST", "/v1/sessions/refresh", {"refresh_token": refresh})
        assert reply.status == 200, reply.body
        refresh = reply.body["refresh_token"]
        await asyncio.sleep(REFRESH)
    me = await api.call("GET", "/v1/me", token=reply.body["access_token"])
    assert tablet.device_id in [d["device_id"] for d in me.body["devices"]]
