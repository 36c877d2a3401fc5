"""After a relationship ends, the ex-counterpart sees the other's devices only as they stood at
the end — no device added since, no key rotated since, no availability — while the keys that
verify the old messages stay readable, through the running services."""

from __future__ import annotations

from tests.integration.api.test_device_announcements import rotate
from tests.support.inprocess import AppStack
from tools.api import Api, Session, coach_and_client

ALL_WEEK = [
    {"day": d, "start": "00:00", "end": "24:00"}
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
]
AVAILABILITY = {
    "time_zone": "UTC",
    "weekly": ALL_WEEK,
    "response_time_hours": 24,
    "away_message": "I read messages in my working hours.",
    "away": None,
}


async def test_an_ex_counterpart_sees_devices_as_they_stood_at_the_end_and_nothing_since(
    api: Api, operator: Session, app_stack: AppStack
) -> None:
    coach, client, cid, _ = await coach_and_client(api, operator, "exes")
    put = await api.call("PUT", "/v1/me/availability", AVAILABILITY, coach.access_token)
    assert put.status == 200, put.body
    availability = f"/v1/accounts/{coach.account_id}/availability"
    assert (await api.call("GET", availability, token=client.access_token)).status == 200
    at_end = await api.call("GET", f"/v1/devices/{client.device_id}", token=coach.access_token)
    ended = await api.call("POST", f"/v1/conversations/{cid}/end", token=client.access_token)
    assert ended.status == 200

    # Since the end: the client rotates its key and signs in on a new laptop.
    assert await rotate(api, client) == 204
    laptop = await api.login(client.handle, client.password, name="laptop")

    listing = await api.call(
        "GET", f"/v1/accounts/{client.account_id}/devices", token=coach.access_token
    )
    assert listing.status == 200
    assert [(d["device_id"], d["kx_key"]) for d in listing.body["devices"]] == [
        (client.device_id, at_end.body["kx_key"])
    ]
    detail = await api.call("GET", f"/v1/devices/{client.device_id}", token=coach.access_token)
    assert detail.status == 200
    assert detail.body["identity_key"] == at_end.body["identity_key"]  # old messages verify
    assert detail.body["kx_key"] == at_end.body["kx_key"]
    assert detail.body["previous_kx_keys"] == []  # no trace of the rotation
    new = await api.call("GET", f"/v1/devices/{laptop.device_id}", token=coach.access_token)
    assert new.status == 404
    export = await api.call("GET", "/v1/me/export", token=coach.access_token)
    [conversation] = export.body["conversations"]
    theirs = [d for d in conversation["devices"] if d["account_id"] == client.account_id]
    assert [(d["device_id"], d["kx_key"], d["previous_kx_keys"]) for d in theirs] == [
        (client.device_id, at_end.body["kx_key"], [])
    ]  # the coach's export shows the same as the API: the devices as they stood at the end
    assert (await api.call("GET", availability, token=client.access_token)).status == 404

    # The client's own view is current, and the coach's keys stay readable to the client.
    own = await api.call("GET", f"/v1/devices/{client.device_id}", token=client.access_token)
    assert own.body["kx_key"] != at_end.body["kx_key"] and len(own.body["previous_kx_keys"]) == 1
    coach_device = await api.call(
        "GET", f"/v1/devices/{coach.device_id}", token=client.access_token
    )
    assert coach_device.status == 200
