"""`devices_changed`: only to relationships that have not ended, debounced per account; key
history is bounded; revoking twice is silent."""

from __future__ import annotations

from pymongo import AsyncMongoClient

from haven_crypto import crypto
from tests.support.inprocess import AppStack
from tests.support.ws import frames_for, next_frame, ws_url
from tools.api import Api, DeviceKeys, Session, coach_and_client

WINDOW = 1.0  # HAVEN_DEVICES_CHANGED_WINDOW_SECONDS (2 s by default)
SWEEP = 1.0  # services/notification/consumers.py ANNOUNCE_SWEEP_SECONDS
QUIET = WINDOW + SWEEP + 1.0  # long enough for the trailing announcement to arrive


# One stack for this module's tests (tests/support/sharing.py), with this environment.
SHARED_STACK: dict[str, str] = {"HAVEN_DEVICES_CHANGED_WINDOW_SECONDS": str(WINDOW)}


def changes_of(frames: list[dict], account_id: str) -> int:
    return sum(f == {"type": "devices_changed", "account_id": account_id} for f in frames)


async def rotate(api: Api, who: Session) -> int:
    keys = DeviceKeys(identity=who.keys.identity)
    body = {
        "kx_key": crypto.b64e(keys.kx_public),
        "kx_signature": crypto.b64e(crypto.sign_kx(keys.identity, who.handle, keys.kx_public)),
    }
    reply = await api.call("PUT", f"/v1/devices/{who.device_id}/kx", body, who.access_token)
    return reply.status


async def test_counterparts_of_an_ended_relationship_hear_nothing_of_new_devices(
    api: Api, operator: Session, app_stack: AppStack
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
        await api.login(coach.handle, coach.password, name="new laptop")
        current_frames = await frames_for(current_ws, QUIET)
        ended_frames = await frames_for(ended_ws, 0.5)
    assert changes_of(current_frames, coach.account_id) == 1
    assert changes_of(ended_frames, coach.account_id) == 0


async def test_a_burst_of_changes_is_announced_at_once_and_once_more_after_the_window(
    api: Api, operator: Session, app_stack: AppStack
) -> None:
    coach, client, _, _ = await coach_and_client(api, operator, "burst")
    async with api.http.ws_connect(ws_url(app_stack), headers=_auth(client)) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        await frames_for(ws, QUIET)  # the window opened by the coach's own login passes
        assert [await rotate(api, coach) for _ in range(4)] == [204] * 4
        seen = await frames_for(ws, QUIET)
    assert changes_of(seen, coach.account_id) == 2


async def test_key_history_is_bounded_and_a_second_revoke_is_silent(
    api: Api,
    operator: Session,
    app_stack: AppStack,
    mongo_client: AsyncMongoClient,
    isolation: tuple[str, str],
) -> None:
    coach, client, _, _ = await coach_and_client(api, operator, "hist")
    for _ in range(20):
        assert await rotate(api, coach) == 204
    detail = await api.call("GET", f"/v1/devices/{coach.device_id}", token=coach.access_token)
    assert len(detail.body["previous_kx_keys"]) == 16

    laptop = await api.login(coach.handle, coach.password, name="laptop")
    path = f"/v1/devices/{laptop.device_id}"
    async with api.http.ws_connect(ws_url(app_stack), headers=_auth(client)) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        await frames_for(ws, QUIET)  # let the announcements of the login pass
        assert (await api.call("DELETE", path, token=coach.access_token)).status == 204
        first = await frames_for(ws, QUIET)
        assert (await api.call("DELETE", path, token=coach.access_token)).status == 204
        second = await frames_for(ws, QUIET)
    assert changes_of(first, coach.account_id) == 1
    assert changes_of(second, coach.account_id) == 0
    audit = mongo_client[f"{isolation[1]}_gateway"]["audit"]
    removals = await audit.count_documents(
        {"type": "device_removed", "device_id": laptop.device_id}
    )
    assert removals == 1


def _auth(session: Session) -> dict[str, str]:
    return {"Authorization": f"Bearer {session.access_token}"}
