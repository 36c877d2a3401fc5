""" "Your data" through the running services: the export holds exactly the caller's data and
the SDK opens it offline; deletion answers a verifiable receipt, revokes at once, and every
service completes it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from haven_client.events import MessageDeleted, ReceivedMessage
from haven_client.export import (
    decrypt_export,
    delete_account,
    download_export,
    public_keys,
    render_html,
    verify_receipt,
)
from services.gateway.edge.keys import deletion_key
from tests.support.inprocess import AppStack
from tests.support.sdk import SdkDevice
from tools.api import Api, Session, coach_and_client, seal_for

PASSWORD = "a long enough password 1"

# One stack for this module's tests (tests/support/sharing.py); each has accounts of its own.
SHARED_STACK: dict[str, str] = {}


@dataclass
class People:
    coach: SdkDevice
    client: SdkDevice
    conversation_id: str
    other_client: Session
    other_conversation_id: str
    handles: dict[str, str]  # coach, client, other: new for each test


async def sdk_account(
    base: str, tmp: Path, handle: str, code: str, device_name: str = "phone"
) -> SdkDevice:
    device = await SdkDevice.create(base, tmp, handle)
    await device.client.register(handle, PASSWORD, code, handle.title())
    await device.client.login(handle, PASSWORD, device_name=device_name)
    return device


@pytest.fixture
async def people(
    api: Api, operator: Session, app_stack: AppStack, tmp_path: Path
) -> AsyncIterator[People]:
    base = app_stack.gateway_url
    tag = uuid.uuid4().hex[:8]
    handles = {who: f"{who}_d{tag}" for who in ("coach", "client", "other")}
    coach = await sdk_account(base, tmp_path, handles["coach"], await api.invite(operator, "coach"))
    coach_session = await api.login(handles["coach"], PASSWORD)
    client = await sdk_account(
        base, tmp_path, handles["client"], await api.invite(coach_session, "client")
    )
    other = await api.onboard(coach_session, "client", handles["other"])
    conversations = {c.conversation_id: c for c in await coach.client.conversations()}
    [mine] = await client.client.conversations()
    [others] = [c for c in conversations if c != mine.conversation_id]
    yield People(coach, client, mine.conversation_id, other, others, handles)
    for device in (coach, client):
        await device.close()


async def test_the_export_holds_exactly_the_callers_data_and_opens_offline(
    people: People, tmp_path: Path
) -> None:
    cid = people.conversation_id
    await people.client.client.send_text(cid, "client says <script>alert(1)</script>")
    await people.coach.client.send_text(cid, "coach answers & cares")
    await people.coach.client.send_text(people.other_conversation_id, "someone else's secret")
    await people.client.client.update_notification_settings(time_zone="Europe/Berlin")
    seen: list[int] = []

    target = tmp_path / "export.json"
    await _until_exported(people.client, target, 2, lambda done, _total: seen.append(done))

    document = _load(target)
    assert document["complete"] is True and seen and seen[-1] == target.stat().st_size
    me = await people.client.client.me()
    assert document["account"]["account_id"] == me.account_id
    assert [d["device_id"] for d in document["devices"]] == [
        people.client.client.store.state.device_id
    ]
    assert [c["conversation_id"] for c in document["conversations"]] == [cid]
    assert {m["conversation_id"] for m in document["messages"]} == {cid}
    assert document["notifications"]["settings"]["time_zone"] == "Europe/Berlin"
    assert {"login_succeeded", "account_registered"} <= {a["type"] for a in document["audit"]}
    text = json.dumps(document)
    foreign_ones = (people.other_client.account_id, people.other_conversation_id)
    for foreign in (*foreign_ones, people.handles["other"]):
        assert foreign not in text
    coach_devices = [d for d in document["conversations"][0]["devices"] if "name" in d]
    assert coach_devices == []  # counterparts' devices: keys only, no names or presence

    readable = decrypt_export(document, people.client.client.store)
    bodies = [m["payload"]["body"] for m in readable["messages"] if m["status"] == "ok"]
    assert bodies == ["client says <script>alert(1)</script>", "coach answers & cares"]
    page = render_html(readable)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "coach answers &amp; cares" in page


async def _until_exported(device: SdkDevice, target: Path, messages: int, progress: Any) -> None:
    """Sends are accepted before they are stored: export until both are in."""
    async with asyncio.timeout(15):
        while True:
            await download_export(device.client, target, progress)
            if len(_load(target)["messages"]) >= messages:
                return
            await asyncio.sleep(0.2)


async def test_deletion_revokes_at_once_and_every_service_completes_it(
    people: People,
    api: Api,
    app_stack: AppStack,
    mongo_client: AsyncMongoClient[Any],
    isolation: tuple[str, str],
) -> None:
    cid = people.conversation_id
    await people.client.client.send_text(cid, "a thing I want gone")
    await people.coach.client.send_text(cid, "the coach's own words")
    people.coach.listen()
    await people.coach.connect()
    db = mongo_client[f"{isolation[1]}_messaging"]
    async with asyncio.timeout(15):
        while await db["messages"].count_documents({"conversation_id": cid}) < 2:
            await asyncio.sleep(0.1)
    token = await people.client.client.transport.access_token()
    async with aiohttp.ClientSession() as http:
        socket = await http.ws_connect(
            app_stack.gateway_url + "/v1/ws", headers={"Authorization": f"Bearer {token}"}
        )
        assert (await socket.receive_json(timeout=10))["type"] == "ready"

        wrong = await api.call("POST", "/v1/me/delete", {"password": "not it at all"}, token)
        assert wrong.status == 401
        answer = await delete_account(people.client.client, PASSWORD)

        closing = await socket.receive(timeout=10)
        while closing.type == aiohttp.WSMsgType.TEXT:  # a delivery that was on its way
            closing = await socket.receive(timeout=10)
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 4403
        await socket.close()

    receipt, signature = answer["receipt"], answer["receipt_signature"]
    keys = await public_keys(people.coach.client)
    assert verify_receipt(receipt, signature, keys)
    assert not verify_receipt({**receipt, "requested_at": "2020-01-01T00:00:00Z"}, signature, keys)
    assert not verify_receipt(
        receipt, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BA"), keys
    )
    assert receipt["account_id"] == people.client.client.store.state.account.account_id  # type: ignore[union-attr]

    assert (await api.call("GET", "/v1/me", token=token)).status == 401
    login = await api.call(
        "POST",
        "/v1/sessions",
        {
            "handle": people.handles["client"],
            "password": PASSWORD,
            "device": _block(people.handles["client"]),
        },
    )
    assert login.status == 401
    code = await api.invite(await api.login(people.handles["coach"], PASSWORD), "client")
    again = await api.register(people.handles["client"], PASSWORD, code)
    assert again.status == 409

    # The counterpart's device is told (message_deleted) and history shows a tombstone.
    gone = receipt["account_id"]
    await people.coach.wait_for(
        lambda events: any(isinstance(e, MessageDeleted) for e in events), timeout=15
    )
    history, _ = await people.coach.client.history(cid, after_seq=0)
    theirs = [m for m in history if getattr(m, "sender_account_id", None) == gone]
    assert theirs and all(isinstance(m, MessageDeleted) for m in theirs)
    assert any(isinstance(m, ReceivedMessage) for m in history)
    conversations = await people.coach.client.conversations()
    assert next(c for c in conversations if c.conversation_id == cid).status == "ended"


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _block(handle: str) -> dict[str, Any]:
    from tools.api import DeviceKeys

    return DeviceKeys().block(handle)


async def test_openapi_describes_export_deletion_and_the_public_keys(api: Api) -> None:
    spec = await api.call("GET", "/v1/openapi.json")
    paths = spec.body["paths"]
    assert "get" in paths["/v1/me/export"] and "post" in paths["/v1/me/delete"]
    keys = await api.call("GET", "/v1/keys")  # public: no token
    assert keys.status == 200 and [k["current"] for k in keys.body["keys"]] == [True]
    assert "DeletionReceipt" in spec.body["components"]["schemas"]


async def test_an_ended_conversation_stays_readable_and_exportable_for_both(
    api: Api, operator: Session
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "end")
    body = {"envelope": seal_for(client, cid, devices, "before the ending")}
    sent = await api.call("POST", f"/v1/conversations/{cid}/messages", body, client.access_token)
    assert sent.status == 202
    ended = await api.call("POST", f"/v1/conversations/{cid}/end", token=coach.access_token)
    assert ended.status == 200
    for who in (coach, client):
        async with asyncio.timeout(15):
            while True:
                export = await api.call("GET", "/v1/me/export", token=who.access_token)
                assert export.status == 200 and export.body["complete"] is True
                if export.body["messages"]:
                    break
                await asyncio.sleep(0.2)
        [conversation] = export.body["conversations"]
        assert conversation["conversation_id"] == cid and conversation["status"] == "ended"
        assert [m["message_id"] for m in export.body["messages"]] == [
            body["envelope"]["message_id"]
        ]
        history = await api.call(
            "GET", f"/v1/conversations/{cid}/messages?after_seq=0", token=who.access_token
        )
        assert history.status == 200 and len(history.body["messages"]) == 1


@pytest.mark.fresh_stack  # counts every pending deletion of its store: a store of its own
async def test_a_deletion_interrupted_half_way_is_completed_by_the_sweep(
    api: Api,
    operator: Session,
    app_stack: AppStack,
    mongo_client: AsyncMongoClient[Any],
    isolation: tuple[str, str],
) -> None:
    _coach, client, cid, devices = await coach_and_client(api, operator, "half")
    body = {"envelope": seal_for(client, cid, devices, "sent before the crash")}
    sent = await api.call("POST", f"/v1/conversations/{cid}/messages", body, client.access_token)
    assert sent.status == 202
    gateway = mongo_client[f"{isolation[1]}_gateway"]
    messages = mongo_client[f"{isolation[1]}_messaging"]["messages"]
    async with asyncio.timeout(15):
        while await messages.count_documents({"conversation_id": cid}) < 1:
            await asyncio.sleep(0.1)
    # The gateway stopped right after marking the account deleted (as `mark_deleted` does).
    await gateway["accounts"].update_one(
        {"_id": client.account_id}, {"$set": {"status": "deleted", "erased_at": None}}
    )

    app = app_stack.replicas["gateway"].runners[0].app
    assert await app[deletion_key].finish_pending() == 1

    assert (await api.call("GET", "/v1/me", token=client.access_token)).status == 401
    relationship = await gateway["relationships"].find_one({"_id": cid})
    assert relationship is not None and relationship["status"] == "ended"
    async with asyncio.timeout(15):
        while await messages.count_documents({"conversation_id": cid, "deleted": True}) < 1:
            await asyncio.sleep(0.1)
    assert await app[deletion_key].finish_pending() == 0  # done: nothing left to complete
