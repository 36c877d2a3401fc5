"""Pause, not block; ended is final for a conversation; reconnecting opens a new one — through
the running services, with `relationship` frames to both sides."""

from __future__ import annotations

from datetime import date, timedelta

from tests.support.inprocess import AppStack
from tests.support.ws import bearer, frame_of_type, next_frame, ws_url
from tools.api import Api, Session, coach_and_client, device_keys_of, seal_for

SHARED_STACK: dict[str, str] = {}  # one stack for this module (tests/support/sharing.py)


async def send(api: Api, who: Session, cid: str, devices: dict[str, bytes]) -> tuple[int, dict]:
    envelope = seal_for(who, cid, devices)
    reply = await api.call(
        "POST", f"/v1/conversations/{cid}/messages", {"envelope": envelope}, who.access_token
    )
    return reply.status, reply.body


async def test_pause_and_resume_reach_both_sides_and_gate_sending_both_ways(
    api: Api, operator: Session, app_stack: AppStack
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "pause")
    resume_on = (date.today() + timedelta(days=14)).isoformat()
    reason = "I'm taking two weeks off. Let's pick this up after."
    async with (
        api.http.ws_connect(ws_url(app_stack), headers=bearer(coach.access_token)) as coach_ws,
        api.http.ws_connect(ws_url(app_stack), headers=bearer(client.access_token)) as client_ws,
    ):
        assert await next_frame(coach_ws) == await next_frame(client_ws) == {"type": "ready"}
        refused = await api.call(
            "POST", f"/v1/conversations/{cid}/pause", {"reason": "x"}, client.access_token
        )
        assert refused.status == 403
        paused = await api.call(
            "POST",
            f"/v1/conversations/{cid}/pause",
            {"reason": reason, "resume_on": resume_on},
            coach.access_token,
        )
        assert paused.status == 200 and paused.body == {"conversation_id": cid, "status": "paused"}
        expected = {
            "type": "relationship",
            "conversation_id": cid,
            "status": "paused",
            "reason": reason,
            "resume_on": resume_on,
        }
        assert await frame_of_type(client_ws, "relationship") == expected
        assert await frame_of_type(coach_ws, "relationship") == expected

        for who in (client, coach):
            status, body = await send(api, who, cid, devices)
            assert status == 409 and body["code"] == "paused", body
            assert body["reason"] == reason and body["resume_on"] == resume_on
        # Over the socket too, with the same fields.
        envelope = seal_for(client, cid, devices)
        await client_ws.send_json({"type": "send", "conversation_id": cid, "envelope": envelope})
        error = await frame_of_type(client_ws, "error")
        assert error["code"] == "paused" and error["reason"] == reason
        history = await api.call(
            "GET", f"/v1/conversations/{cid}/messages", token=client.access_token
        )
        assert history.status == 200  # reading stays possible
        listed = await api.call("GET", "/v1/conversations", token=client.access_token)
        [conversation] = listed.body["conversations"]
        assert conversation["status"] == "paused"
        assert conversation["pause"] == {"reason": reason, "resume_on": resume_on}

        resumed = await api.call(
            "POST", f"/v1/conversations/{cid}/resume", token=coach.access_token
        )
        assert resumed.status == 200 and resumed.body["status"] == "active"
        back = {**expected, "status": "active", "reason": None, "resume_on": None}
        assert await frame_of_type(client_ws, "relationship") == back
        assert await frame_of_type(coach_ws, "relationship") == back
    status, _ = await send(api, client, cid, devices)
    assert status == 202

    audit = await api.call("GET", "/v1/admin/audit", token=operator.access_token)
    types = [e["type"] for e in audit.body["entries"] if e["details"].get("conversation_id") == cid]
    assert "relationship_paused" in types and "relationship_resumed" in types
    assert all(reason not in str(e) for e in audit.body["entries"])


async def test_ended_is_final_and_a_new_invite_opens_a_new_conversation(
    api: Api, operator: Session, app_stack: AppStack
) -> None:

    coach, client, old, devices = await coach_and_client(api, operator, "again")
    assert (await send(api, client, old, devices))[0] == 202
    async with api.http.ws_connect(
        ws_url(app_stack), headers=bearer(coach.access_token)
    ) as coach_ws:
        assert await next_frame(coach_ws) == {"type": "ready"}
        ended = await api.call("POST", f"/v1/conversations/{old}/end", token=client.access_token)
        assert ended.status == 200 and ended.body["status"] == "ended"
        frame = await frame_of_type(coach_ws, "relationship")
        assert frame == {
            "type": "relationship",
            "conversation_id": old,
            "status": "ended",
            "reason": None,
            "resume_on": None,
        }
    for path in ("pause", "resume"):
        reply = await api.call(
            "POST", f"/v1/conversations/{old}/{path}", {}, token=coach.access_token
        )
        assert reply.status == 409, path  # ended is final for this conversation

    accepted = await api.call(
        "POST",
        "/v1/invites/accept",
        {"code": await api.invite(coach, "client")},
        client.access_token,
    )
    assert accepted.status == 201, accepted.body
    new = accepted.body["conversation_id"]
    assert new != old
    again = await api.call(
        "POST",
        "/v1/invites/accept",
        {"code": await api.invite(coach, "client")},
        client.access_token,
    )
    assert again.status == 409  # one live conversation per pair

    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    statuses = {c["conversation_id"]: c["status"] for c in listed.body["conversations"]}
    assert statuses == {old: "ended", new: "active"}
    history = await api.call("GET", f"/v1/conversations/{old}/messages", token=client.access_token)
    assert history.status == 200 and len(history.body["messages"]) == 1
    assert (await send(api, client, old, devices))[0] == 409
    fresh = await device_keys_of(api, client, coach.account_id, client.account_id)
    assert (await send(api, client, new, fresh))[0] == 202
