"""Safety round 3 (issue 18, items 3, 4 and 9) through the running services: an ended
relationship's record cannot be erased by either side, an unchanged pause is announced once,
and the client's copy of the audit log shows what was done to their conversation."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.support.inprocess import AppStack
from tests.support.ws import bearer, frame_of_type, next_frame, ws_url
from tools.api import Api, Session, coach_and_client, seal_for

# One stack for this module's tests (tests/support/sharing.py); each has accounts of its own.
SHARED_STACK: dict[str, str] = {}


async def _stored(api: Api, who: Session, cid: str, devices: dict[str, bytes]) -> str:
    """Send one message and wait until messaging has stored it."""
    envelope = seal_for(who, cid, devices)
    sent = await api.call(
        "POST", f"/v1/conversations/{cid}/messages", {"envelope": envelope}, who.access_token
    )
    assert sent.status == 202, sent.body
    async with asyncio.timeout(10):
        while True:
            page = await api.call(
                "GET", f"/v1/conversations/{cid}/messages", token=who.access_token
            )
            ids = [m["message_id"] for m in page.body["messages"]]
            if envelope["message_id"] in ids:
                return str(envelope["message_id"])
            await asyncio.sleep(0.05)


async def _export(api: Api, who: Session) -> dict[str, Any]:
    reply = await api.call("GET", "/v1/me/export", token=who.access_token)
    assert reply.status == 200, reply.body
    document = reply.body if isinstance(reply.body, dict) else json.loads(reply.body)
    assert isinstance(document, dict)
    return document


async def test_after_the_end_neither_side_can_delete_or_change_retention(
    api: Api, operator: Session
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "erase")
    mine = await _stored(api, client, cid, devices)
    theirs = await _stored(api, coach, cid, devices)
    ended = await api.call("POST", f"/v1/conversations/{cid}/end", token=coach.access_token)
    assert ended.status == 200
    for who, message_id in ((client, mine), (coach, theirs)):
        deleted = await api.call(
            "DELETE", f"/v1/conversations/{cid}/messages/{message_id}", token=who.access_token
        )
        assert deleted.status == 409 and deleted.code == "conflict", deleted.body
        for days in (1, None):
            shorter = await api.call(
                "PUT",
                f"/v1/conversations/{cid}/settings",
                {"retention_days": days},
                who.access_token,
            )
            assert shorter.status == 409 and shorter.code == "conflict", shorter.body
        # Other own settings stay the caller's to change.
        receipts = await api.call(
            "PUT",
            f"/v1/conversations/{cid}/settings",
            {"share_read_receipts": False},
            who.access_token,
        )
        assert receipts.status == 200, receipts.body
    history = await api.call("GET", f"/v1/conversations/{cid}/messages", token=client.access_token)
    assert {mine, theirs} <= {m["message_id"] for m in history.body["messages"] if not m["deleted"]}


async def test_pausing_again_with_the_same_reason_and_date_is_announced_once(
    api: Api, operator: Session, app_stack: AppStack
) -> None:
    coach, client, cid, _ = await coach_and_client(api, operator, "repause")
    pause = {"reason": "A week away.", "resume_on": None}
    async with api.http.ws_connect(
        ws_url(app_stack), headers=bearer(client.access_token)
    ) as client_ws:
        assert await next_frame(client_ws) == {"type": "ready"}
        for _ in range(3):
            paused = await api.call(
                "POST", f"/v1/conversations/{cid}/pause", pause, coach.access_token
            )
            assert paused.status == 200, paused.body
        assert (await frame_of_type(client_ws, "relationship"))["status"] == "paused"
        changed = await api.call(
            "POST", f"/v1/conversations/{cid}/pause", {"reason": "Two weeks."}, coach.access_token
        )
        assert changed.status == 200
        # The change is announced after whatever the repeats caused, on the same path: what
        # comes before it is what the repeats were announced with.
        more = []
        while (frame := await frame_of_type(client_ws, "relationship"))["reason"] != "Two weeks.":
            more.append(frame)
        assert more == []  # nothing changed: nothing to hear again


async def test_the_clients_audit_copy_shows_what_was_done_to_their_conversation(
    api: Api, operator: Session
) -> None:
    coach, client, cid, _ = await coach_and_client(api, operator, "audcopy")
    for path, body in (("pause", {"reason": "away"}), ("resume", {})):
        reply = await api.call("POST", f"/v1/conversations/{cid}/{path}", body, coach.access_token)
        assert reply.status == 200, reply.body
    settings = await api.call(
        "PUT",
        f"/v1/conversations/{cid}/settings",
        {"share_read_receipts": False},
        client.access_token,
    )
    assert settings.status == 200
    retention = await api.call(
        "PUT", f"/v1/conversations/{cid}/settings", {"retention_days": 30}, client.access_token
    )
    assert retention.status == 200
    notifications = await api.call(
        "PUT", "/v1/me/notification-settings", {"time_zone": "Europe/Berlin"}, client.access_token
    )
    assert notifications.status == 200, notifications.body
    await _export(api, client)
    ended = await api.call("POST", f"/v1/conversations/{cid}/end", token=coach.access_token)
    assert ended.status == 200

    audit = (await _export(api, client))["audit"]
    about = [e for e in audit if e["details"].get("conversation_id") == cid]
    types = [e["type"] for e in about]
    for done in ("relationship_paused", "relationship_resumed", "relationship_ended"):
        assert done in types, types
    assert "retention_changed" in types and "settings_changed" in types, types
    assert {"data_exported", "notification_settings_changed"} <= {e["type"] for e in audit}
    # The coach's own metadata stays theirs: no device or address of theirs in the copy.
    for entry in about:
        if entry["type"] in ("relationship_paused", "relationship_resumed"):
            assert entry["device_id"] is None and entry["address"] is None, entry
    coach_side = (await _export(api, coach))["audit"]
    coach_types = [e["type"] for e in coach_side if e["details"].get("conversation_id") == cid]
    assert "retention_changed" in coach_types  # the effective retention changed for both
    assert "away" not in json.dumps(audit)  # a pause reason is the coach's words, not audit
