"""Account deletion with real processes: issued while notification is stopped, it completes
once notification is back (its durable queue kept `account.deleted`); afterwards the handle
cannot log in or register, the counterpart sees tombstones (and got `message_deleted`), and
no database or queue holds any ciphertext the deleted account sent."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient

from tests.support.rabbit import queued_bodies
from tests.support.ws import bearer, ws_url
from tools.api import Api, DeviceKeys, Session, coach_and_client, seal_for
from tools.stack import Stack


async def send(
    api: Api, sender: Session, cid: str, devices: dict[str, bytes], text: str
) -> dict[str, Any]:
    envelope = seal_for(sender, cid, devices, text)
    answer = await api.call(
        "POST", f"/v1/conversations/{cid}/messages", {"envelope": envelope}, sender.access_token
    )
    assert answer.status == 202, answer.body
    return envelope


async def until(check: Any, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.2)


async def test_a_deletion_issued_while_notification_is_down_completes_after_it_restarts(
    api: Api,
    operator: Session,
    stack: Stack,
    mongo_client: AsyncMongoClient[Any],
    isolation: tuple[str, str],
) -> None:
    namespace, prefix = isolation
    coach, client, cid, devices = await coach_and_client(api, operator, "del")
    sent = [await send(api, client, cid, devices, f"my private words {i}") for i in range(3)]
    await send(api, coach, cid, devices, "the coach's reply stays")
    settings = {"time_zone": "Europe/Vienna", "quiet_hours": None, "urgent_bypass": False}
    put = await api.call("PUT", "/v1/me/notification-settings", settings, client.access_token)
    assert put.status == 200
    messaging = mongo_client[f"{prefix}_messaging"]["messages"]
    notification = mongo_client[f"{prefix}_notification"]

    async def all_stored() -> bool:
        return await messaging.count_documents({"conversation_id": cid}) == 4

    await until(all_stored)

    async with api.http.ws_connect(ws_url(stack), headers=bearer(coach.access_token)) as socket:
        assert (await socket.receive_json(timeout=10))["type"] == "ready"
        await asyncio.to_thread(stack.stop, "notification")
        sent.append(await send(api, client, cid, devices, "sent while notification is down"))

        async def waiting_for_notification() -> bool:  # its event waits in the queue
            message_id = str(sent[-1]["message_id"])
            return any(message_id in body for body in await queued_bodies(namespace))

        await until(waiting_for_notification)

        deleted = await api.call(
            "POST", "/v1/me/delete", {"password": client.password}, client.access_token
        )
        assert deleted.status == 202, deleted.body

        async def tombstoned() -> bool:  # messaging did its part meanwhile
            query = {"sender_account_id": client.account_id, "deleted": True}
            return await messaging.count_documents(query) == 4

        await until(tombstoned)
        assert await notification["notification_settings"].find_one({"_id": client.account_id})

        await asyncio.to_thread(stack.start, "notification")
        await asyncio.to_thread(stack.wait_ready)
        frames = await _deleted_frames(socket, 4)

    async def settings_gone() -> bool:
        return (
            await notification["notification_settings"].find_one({"_id": client.account_id}) is None
        )

    await until(settings_gone)
    assert {f["conversation_id"] for f in frames} == {cid}

    history = await api.call(
        "GET", f"/v1/conversations/{cid}/messages?after_seq=0", token=coach.access_token
    )
    theirs = [m for m in history.body["messages"] if m["sender_account_id"] == client.account_id]
    assert len(theirs) == 4 and all(m["deleted"] and m["envelope"] is None for m in theirs)
    login = await api.call(
        "POST",
        "/v1/sessions",
        {
            "handle": client.handle,
            "password": client.password,
            "device": DeviceKeys().block(client.handle),
        },
    )
    assert login.status == 401
    again = await api.register(client.handle, client.password, await api.invite(coach, "client"))
    assert again.status == 409

    everything = await _database_dumps(mongo_client, prefix) + await queued_bodies(namespace)
    assert len(everything) > 10
    for envelope in sent:
        ciphertext = str(envelope["ciphertext"])
        for text in everything:
            assert ciphertext[:40] not in text


async def _deleted_frames(socket: aiohttp.ClientWebSocketResponse, n: int) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(30):
        while len(frames) < n:
            frame = await socket.receive_json()
            if frame.get("type") == "message_deleted":
                frames.append(frame)
    return frames


async def _database_dumps(client: AsyncMongoClient[Any], prefix: str) -> list[str]:
    dumps = []
    for name in await client.list_database_names():
        if name.startswith(prefix):
            db = client[name]
            for collection in await db.list_collection_names():
                dumps += [json.dumps(d, default=str) async for d in db[collection].find()]
    return dumps
