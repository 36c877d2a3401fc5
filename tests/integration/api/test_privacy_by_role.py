"""Privacy by role: counterparts see keys only (no names, no presence), read receipts follow
each participant's setting (a client's are off until they opt in), retention is the shorter
choice within the operator's bounds and announced to both sides."""

from __future__ import annotations

from pymongo import AsyncMongoClient

from services.gateway.model.records import ParticipantSettings
from services.gateway.stores.relationships import RelationshipRepository
from tests.support.inprocess import AppStack
from tests.support.ws import bearer, frame_of_type, next_frame, ws_url
from tools.api import Api, Session, coach_and_client, seal_for

PEER_DEVICE_FIELDS = {"device_id", "kind", "identity_key", "kx_key", "kx_signature", "created_at"}


# One stack for this module's tests (tests/support/sharing.py), with this environment.
SHARED_STACK: dict[str, str] = {
    "HAVEN_RETENTION_DEFAULT_DAYS": "180",
    "HAVEN_RETENTION_MIN_DAYS": "7",
    "HAVEN_RETENTION_MAX_DAYS": "365",
}


async def settings(api: Api, who: Session, cid: str, **body: object) -> dict:
    reply = await api.call("PUT", f"/v1/conversations/{cid}/settings", body, who.access_token)
    assert reply.status == 200, reply.body
    return dict(reply.body)


async def test_a_counterpart_sees_device_keys_only_never_names_or_presence(
    api: Api, operator: Session
) -> None:
    coach, client, _, _ = await coach_and_client(api, operator, "keys")
    refreshed = await api.call(
        "POST", "/v1/sessions/refresh", {"refresh_token": client.refresh_token}
    )
    assert refreshed.status == 200  # the client was just "seen"
    listed = await api.call(
        "GET", f"/v1/accounts/{client.account_id}/devices", token=coach.access_token
    )
    assert listed.status == 200
    assert [set(d) for d in listed.body["devices"]] == [PEER_DEVICE_FIELDS]
    one = await api.call("GET", f"/v1/devices/{client.device_id}", token=coach.access_token)
    assert one.status == 200
    assert "name" not in one.body and "last_seen_at" not in one.body
    own = await api.call(
        "GET", f"/v1/accounts/{client.account_id}/devices", token=refreshed.body["access_token"]
    )
    assert {"name", "last_seen_at"} <= set(own.body["devices"][0])  # the owner's own view


async def test_a_coach_gets_read_frames_only_from_a_client_who_opted_in(
    api: Api, operator: Session, app_stack: AppStack
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "reads")
    for text in ("one", "two"):
        envelope = seal_for(coach, cid, devices, text)
        sent = await api.call(
            "POST", f"/v1/conversations/{cid}/messages", {"envelope": envelope}, coach.access_token
        )
        assert sent.status == 202
    tablet = await api.login(client.handle, client.password, name="tablet")
    async with (
        api.http.ws_connect(ws_url(app_stack), headers=bearer(coach.access_token)) as coach_ws,
        api.http.ws_connect(ws_url(app_stack), headers=bearer(tablet.access_token)) as own_ws,
    ):
        assert await next_frame(coach_ws) == await next_frame(own_ws) == {"type": "ready"}
        read = await api.call(
            "POST", f"/v1/conversations/{cid}/read", {"up_to_seq": 1}, client.access_token
        )
        assert read.status == 202
        # The client's own other device hears it: the receipt went all the way through (and
        # whom it went to was decided then, before the client opts in below).
        assert (await frame_of_type(own_ws, "read"))["up_to_seq"] == 1

        opted = await settings(api, client, cid, share_read_receipts=True)
        assert opted["share_read_receipts"] is True
        read = await api.call(
            "POST", f"/v1/conversations/{cid}/read", {"up_to_seq": 2}, client.access_token
        )
        assert read.status == 202
        # The receipt after opting in comes the same way: a read frame of the first one, had
        # the coach been sent one, would have come before it.
        earlier = []
        while (frame := await frame_of_type(coach_ws, "read"))["up_to_seq"] != 2:
            earlier.append(frame)
        assert earlier == []
        assert frame == {
            "type": "read",
            "conversation_id": cid,
            "account_id": client.account_id,
            "up_to_seq": 2,
        }


async def test_settings_defaults_by_role_and_push_detail_is_kept_per_participant(
    api: Api, operator: Session
) -> None:
    coach, client, cid, _ = await coach_and_client(api, operator, "defaults")
    views = {}
    for who in (coach, client):
        listed = await api.call("GET", "/v1/conversations", token=who.access_token)
        [views[who.role]] = listed.body["conversations"]
    assert views["coach"]["settings"] == {
        "share_read_receipts": True,
        "notification_detail": "generic",
        "retention_days": 180,
    }
    assert views["client"]["settings"]["share_read_receipts"] is False
    assert views["client"]["retention_days"] == 180 and views["client"]["pause"] is None

    changed = await settings(api, client, cid, notification_detail="none")
    assert changed["notification_detail"] == "none"
    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    assert listed.body["conversations"][0]["settings"]["notification_detail"] == "none"
    coach_view = await api.call("GET", "/v1/conversations", token=coach.access_token)
    assert coach_view.body["conversations"][0]["settings"]["notification_detail"] == "generic"

    for bad in ({"retention_days": 3}, {"retention_days": 400}, {"share_read_receipts": None}):
        reply = await api.call("PUT", f"/v1/conversations/{cid}/settings", bad, client.access_token)
        assert reply.status == 422, bad
    stranger = await api.onboard(operator, "coach", "coach_stranger")
    reply = await api.call(
        "PUT", f"/v1/conversations/{cid}/settings", {"retention_days": 30}, stranger.access_token
    )
    assert reply.status == 404


async def test_the_shorter_retention_wins_and_both_sides_are_told(
    api: Api,
    operator: Session,
    app_stack: AppStack,
    mongo_client: AsyncMongoClient,
    stack_environment: dict[str, str],
) -> None:
    coach, client, cid, _ = await coach_and_client(api, operator, "retain")
    async with (
        api.http.ws_connect(ws_url(app_stack), headers=bearer(coach.access_token)) as coach_ws,
        api.http.ws_connect(ws_url(app_stack), headers=bearer(client.access_token)) as client_ws,
    ):
        assert await next_frame(coach_ws) == await next_frame(client_ws) == {"type": "ready"}
        chosen = await settings(api, client, cid, retention_days=30)
        assert chosen["retention_days"] == 30 and chosen["effective_retention_days"] == 30
        expected = {"type": "retention", "conversation_id": cid, "retention_days": 30}
        assert await frame_of_type(coach_ws, "retention") == expected
        assert await frame_of_type(client_ws, "retention") == expected

        longer = await settings(api, coach, cid, retention_days=90)
        assert longer["effective_retention_days"] == 30  # the shorter choice stays
        shorter = await settings(api, coach, cid, retention_days=10)
        assert shorter["effective_retention_days"] == 10
        assert (await frame_of_type(client_ws, "retention"))["retention_days"] == 10
        keep = await settings(api, client, cid, retention_days=None)
        assert keep["retention_days"] is None and keep["effective_retention_days"] == 10
    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    assert listed.body["conversations"][0]["retention_days"] == 10
    # What the export will read: each account's own choices, by conversation.
    db = mongo_client[f"{stack_environment['HAVEN_DB_PREFIX']}_gateway"]
    own = await RelationshipRepository(db).settings_of_account(client.account_id)
    assert own == [(cid, ParticipantSettings(retention_chosen=True, retention_days=None))]
