"""The backup key as a recipient (API.md "History on a new device"), through the running
services: published from a device with its signature, listed with kind `backup` in every device
listing, part of the send's device-set check, announced, replaced, removed, retired once no
active device vouches for it, exported and erased."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import nacl.public
import pytest
from pymongo import AsyncMongoClient

from haven_crypto import crypto
from tests.support.history import backup_body, listing, publish_backup, recipients_of
from tests.support.inprocess import AppStack
from tests.support.ws import bearer, frame_of_type, frames_for, next_frame, ws_url
from tools.api import Api, Session, seal_for

SHARED_STACK: dict[str, str] = {"HAVEN_DEVICES_CHANGED_WINDOW_SECONDS": "0"}


@dataclass
class Pair:
    coach: Session
    client: Session
    conversation_id: str


@pytest.fixture
async def pair(api: Api, operator: Session) -> Pair:
    tag = uuid.uuid4().hex[:8]
    coach = await api.onboard(operator, "coach", f"coach_bk{tag}")
    client = await api.onboard(coach, "client", f"client_bk{tag}")
    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    return Pair(coach, client, listed.body["conversations"][0]["conversation_id"])


async def _send(api: Api, who: Session, cid: str, recipients: dict[str, bytes]) -> object:
    envelope = seal_for(who, cid, recipients)
    return await api.call(
        "POST", f"/v1/conversations/{cid}/messages", {"envelope": envelope}, who.access_token
    )


async def test_a_published_backup_key_is_listed_with_kind_backup_everywhere(
    api: Api, pair: Pair
) -> None:
    key, reply = await publish_backup(api, pair.client)
    assert reply.status == 200, reply.body
    backup_id = reply.body["backup_id"]
    assert reply.body["kx_key"] == crypto.b64e(bytes(key.public_key))
    assert set(reply.body["signatures"]) == {pair.client.device_id}
    assert backup_id not in (pair.client.device_id, pair.coach.device_id)

    got = await api.call("GET", "/v1/me/backup", token=pair.client.access_token)
    assert got.status == 200
    assert got.body["backup_id"] == backup_id and got.body["earlier_backup_ids"] == []
    entry = {
        "device_id": backup_id,
        "kind": "backup",
        "kx_key": crypto.b64e(bytes(key.public_key)),
        "signatures": reply.body["signatures"],
    }
    me = await api.call("GET", "/v1/me", token=pair.client.access_token)
    assert me.body["devices"][-1] == entry
    assert [d["kind"] for d in me.body["devices"]] == ["device", "backup"]
    own = await listing(api, pair.client, pair.client.account_id)
    seen_by_coach = await listing(api, pair.coach, pair.client.account_id)
    assert own[-1] == seen_by_coach[-1] == entry
    assert seen_by_coach[0]["kind"] == "device" and "name" not in seen_by_coach[0]
    # The coach has none: its listing holds its device only.
    assert [d["kind"] for d in await listing(api, pair.client, pair.coach.account_id)] == ["device"]
    none = await api.call("GET", "/v1/me/backup", token=pair.coach.access_token)
    assert none.status == 404 and none.code == "not_found"


async def test_a_send_must_wrap_for_the_backup_key(api: Api, pair: Pair) -> None:
    _, reply = await publish_backup(api, pair.client)
    backup_id = reply.body["backup_id"]
    everyone = await recipients_of(api, pair.coach, pair.coach.account_id, pair.client.account_id)
    devices_only = {k: v for k, v in everyone.items() if k != backup_id}

    for sender in (pair.coach, pair.client):
        refused = await _send(api, sender, pair.conversation_id, devices_only)
        assert refused.status == 409 and refused.code == "device_mismatch"  # type: ignore[attr-defined]
        assert refused.body["missing_devices"] == [backup_id]  # type: ignore[attr-defined]
        assert refused.body["extra_devices"] == []  # type: ignore[attr-defined]
        accepted = await _send(api, sender, pair.conversation_id, everyone)
        assert accepted.status == 202, accepted.body  # type: ignore[attr-defined]

    # Stored with the wrap for the backup key (202: queued; stored a moment later).
    async with asyncio.timeout(10):
        while True:
            history = await api.call(
                "GET",
                f"/v1/conversations/{pair.conversation_id}/messages?after_seq=0",
                token=pair.client.access_token,
            )
            if len(history.body["messages"]) == 2:
                break
            await asyncio.sleep(0.05)
    assert [backup_id in m["envelope"]["keys"] for m in history.body["messages"]] == [True, True]


async def test_the_backup_key_is_never_delivered_to(
    api: Api, pair: Pair, app_stack: AppStack
) -> None:
    """No frame and no pending push for it: it has no socket (every delivery published for the
    message is routed, none comes back unroutable)."""
    _, reply = await publish_backup(api, pair.client)
    everyone = await recipients_of(api, pair.coach, pair.coach.account_id, pair.client.account_id)
    assert reply.body["backup_id"] in everyone
    async with api.http.ws_connect(
        ws_url(app_stack), headers=bearer(pair.client.access_token)
    ) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        sent = await _send(api, pair.coach, pair.conversation_id, everyone)
        assert sent.status == 202  # type: ignore[attr-defined]
        message = await frame_of_type(ws, "message")
        await ws.send_json({"type": "ack", "message_id": message["message"]["message_id"]})
        line = await app_stack.wait_for_log(
            "messaging", event="deliveries_published", frame="message"
        )
    assert (line["routed"], line["returned"]) == (1, 0)


async def test_a_backup_key_needs_its_devices_signatures(
    api: Api, pair: Pair, operator: Session
) -> None:
    key = nacl.public.PrivateKey.generate()
    kx = bytes(key.public_key)
    token = pair.client.access_token

    async def put(body: object) -> tuple[int, str | None, object]:
        reply = await api.call("PUT", "/v1/me/backup", body, token)
        return reply.status, reply.code, reply.body

    status, code, _ = await put(backup_body(kx, pair.coach))  # another account's device
    assert (status, code) == (422, "invalid_request")
    laptop = await api.login(pair.client.handle, pair.client.password, name="laptop")
    status, code, body = await put(backup_body(kx, laptop))  # not the calling device's
    assert (status, code) == (422, "invalid_request")
    assert body["errors"][0]["field"] == "signatures"  # type: ignore[index]
    status, code, body = await put(
        {
            **backup_body(kx, pair.client),
            **{
                "signatures": {
                    **backup_body(kx, pair.client)["signatures"],
                    pair.coach.device_id: crypto.b64e(bytes(64)),
                }
            },
        }
    )
    assert (status, code) == (422, "invalid_request")
    assert body["errors"][0]["field"] == f"signatures.{pair.coach.device_id}"  # type: ignore[index]
    forged = backup_body(kx, pair.client)
    forged["signatures"][pair.client.device_id] = crypto.b64e(bytes(64))
    assert (await put(forged))[:2] == (422, "bad_signature")
    other_key = backup_body(bytes(nacl.public.PrivateKey.generate().public_key), pair.client)
    other_key["kx_key"] = crypto.b64e(kx)  # signed for another key
    assert (await put(other_key))[:2] == (422, "bad_signature")
    low_order = backup_body(bytes(32), pair.client)
    assert (await put(low_order))[:2] == (422, "invalid_request")
    for bad in (
        {"kx_key": crypto.b64e(kx)},
        {**backup_body(kx, pair.client), "signatures": {}},
        {**backup_body(kx, pair.client), "kx_key": crypto.b64e(kx)[:-2]},
        {**backup_body(kx, pair.client), "kx_key": crypto.b64e(kx) + "="},
        {**backup_body(kx, pair.client), "extra": 1},
        {"kx_key": crypto.b64e(kx), "signatures": {pair.client.device_id: "AAAA"}},
    ):
        assert (await put(bad))[:2] == (422, "invalid_request"), bad
    assert (await api.call("GET", "/v1/me/backup", token=token)).status == 404
    # Signed by both devices of the account: accepted, both kept.
    status, _, body = await put(backup_body(kx, pair.client, laptop))
    assert status == 200
    assert set(body["signatures"]) == {pair.client.device_id, laptop.device_id}  # type: ignore[index]


async def test_publishing_replacing_and_removing_are_announced_to_both_sides(
    api: Api, pair: Pair, app_stack: AppStack
) -> None:
    laptop = await api.login(pair.client.handle, pair.client.password, name="laptop")
    expected = {"type": "devices_changed", "account_id": pair.client.account_id}
    async with (
        api.http.ws_connect(ws_url(app_stack), headers=bearer(pair.client.access_token)) as own,
        api.http.ws_connect(ws_url(app_stack), headers=bearer(laptop.access_token)) as other,
        api.http.ws_connect(ws_url(app_stack), headers=bearer(pair.coach.access_token)) as coach,
    ):
        for ws in (own, other, coach):
            assert await next_frame(ws) == {"type": "ready"}
        await frames_for(coach, 1.0)  # the laptop's own announcement passes
        key, first = await publish_backup(api, pair.client)
        for ws in (own, other, coach):
            assert await frame_of_type(ws, "devices_changed") == expected
        # The same key again (more signatures): a new id, the earlier one named.
        _, second = await publish_backup(api, pair.client, laptop, key=key)
        assert second.status == 200 and second.body["backup_id"] != first.body["backup_id"]
        for ws in (own, other, coach):
            assert await frame_of_type(ws, "devices_changed") == expected
        got = await api.call("GET", "/v1/me/backup", token=laptop.access_token)
        assert got.body["backup_id"] == second.body["backup_id"]
        assert got.body["earlier_backup_ids"] == [first.body["backup_id"]]
        # A new key: its id, no earlier ones.
        _, third = await publish_backup(api, laptop)
        got = await api.call("GET", "/v1/me/backup", token=laptop.access_token)
        assert got.body["backup_id"] == third.body["backup_id"]
        assert got.body["earlier_backup_ids"] == []
        for ws in (own, other, coach):
            assert await frame_of_type(ws, "devices_changed") == expected
        removed = await api.call("DELETE", "/v1/me/backup", token=pair.client.access_token)
        assert removed.status == 204
        for ws in (own, other, coach):
            assert await frame_of_type(ws, "devices_changed") == expected
        again = await api.call("DELETE", "/v1/me/backup", token=pair.client.access_token)
        assert again.status == 204
        assert await frames_for(coach, 1.0) == []  # nothing removed, nothing announced
    assert (await api.call("GET", "/v1/me/backup", token=laptop.access_token)).status == 404
    kinds = [d["kind"] for d in await listing(api, pair.coach, pair.client.account_id)]
    assert kinds == ["device", "device"]
    everyone = await recipients_of(api, pair.coach, pair.coach.account_id, pair.client.account_id)
    assert (await _send(api, pair.coach, pair.conversation_id, everyone)).status == 202  # type: ignore[attr-defined]


async def test_a_backup_key_without_an_active_signer_is_retired(
    api: Api, pair: Pair, mongo_client: AsyncMongoClient, isolation: tuple[str, str]
) -> None:
    laptop = await api.login(pair.client.handle, pair.client.password, name="laptop")
    _, published = await publish_backup(api, laptop)
    backup_id = published.body["backup_id"]
    # Another device of the account is revoked: the signer remains, the key stays.
    tablet = await api.login(pair.client.handle, pair.client.password, name="tablet")
    gone = await api.call("DELETE", f"/v1/devices/{tablet.device_id}", token=laptop.access_token)
    assert gone.status == 204
    assert (await api.call("GET", "/v1/me/backup", token=pair.client.access_token)).status == 200
    # The only signer goes: no sender could trust the key, so it must not block sends.
    gone = await api.call(
        "DELETE", f"/v1/devices/{laptop.device_id}", token=pair.client.access_token
    )
    assert gone.status == 204
    assert (await api.call("GET", "/v1/me/backup", token=pair.client.access_token)).status == 404
    assert backup_id not in await recipients_of(api, pair.coach, pair.client.account_id)
    everyone = await recipients_of(api, pair.coach, pair.coach.account_id, pair.client.account_id)
    assert (await _send(api, pair.coach, pair.conversation_id, everyone)).status == 202  # type: ignore[attr-defined]
    audit = mongo_client[f"{isolation[1]}_gateway"]["audit"]
    entry = await audit.find_one({"type": "backup_removed", "details.backup_id": backup_id})
    assert entry is not None and entry["details"]["reason"] == "no_active_signer"
    kept = await mongo_client[f"{isolation[1]}_gateway"]["backups"].find_one({"_id": backup_id})
    assert kept is not None and kept["revoked_at"] is not None  # kept, attributable


async def test_the_export_holds_every_backup_key_and_deletion_erases_them(
    api: Api, pair: Pair, mongo_client: AsyncMongoClient, isolation: tuple[str, str]
) -> None:
    _, first = await publish_backup(api, pair.client)
    _, second = await publish_backup(api, pair.client)
    export = await api.call("GET", "/v1/me/export", token=pair.client.access_token)
    assert export.status == 200
    backups = export.body["backups"]
    assert [b["backup_id"] for b in backups] == [first.body["backup_id"], second.body["backup_id"]]
    assert backups[0]["revoked_at"] is not None and backups[1]["revoked_at"] is None
    assert backups[1]["kx_key"] == second.body["kx_key"]

    deleted = await api.call(
        "POST", "/v1/me/delete", {"password": pair.client.password}, pair.client.access_token
    )
    assert deleted.status == 202
    assert any("backup" in line for line in deleted.body["receipt"]["deletes"])
    stored = mongo_client[f"{isolation[1]}_gateway"]["backups"]
    async for doc in stored.find({"account_id": pair.client.account_id}):
        assert doc["kx_key"] == b"" and doc["signatures"] == {} and doc["revoked_at"] is not None
        assert "current_of" not in doc
    assert await stored.count_documents({"account_id": pair.client.account_id}) == 2
    kinds = [d["kind"] for d in await listing(api, pair.coach, pair.client.account_id)]
    assert "backup" not in kinds
