"""Retention through the running services: a conversation's retention (announced on the bus
as the gateway does) empties history and then the store, through messaging's expiry sweep;
pending notifications and audit entries expire through their TTL indexes. A retention day
lasts one second here, and the pending and audit retention periods a few seconds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import AsyncMongoClient

from shared.events import RetentionChanged, RetentionData
from shared.logging import correlation
from shared.topology import Topology
from tests.support.messaging import driver_bus
from tests.support.ttl import sweep_ttl
from tools.api import Api, Session, coach_and_client, seal_for
from tools.infra import Infra

SHORT_DAYS = "0.00003"  # 2.6 seconds


# One stack for this module's tests (tests/support/sharing.py), with this environment.
SHARED_STACK: dict[str, str] = {
    "HAVEN_RETENTION_DAY_SECONDS": "1",
    "HAVEN_PENDING_RETENTION_DAYS": SHORT_DAYS,
    "HAVEN_AUDIT_RETENTION_DAYS": SHORT_DAYS,
}


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.2)


async def send(api: Api, sender: Session, cid: str, devices: dict[str, bytes], text: str) -> None:
    body = {"envelope": seal_for(sender, cid, devices, text)}
    sent = await api.call("POST", f"/v1/conversations/{cid}/messages", body, sender.access_token)
    assert sent.status == 202, sent.body


async def history(api: Api, session: Session, cid: str) -> list[int]:
    page = await api.call(
        "GET", f"/v1/conversations/{cid}/messages?after_seq=0", token=session.access_token
    )
    assert page.status == 200
    return [m["seq"] for m in page.body["messages"]]


async def test_a_short_retention_empties_history_and_then_the_store(
    api: Api,
    operator: Session,
    infra: Infra,
    clean_broker: Topology,
    mongo_client: AsyncMongoClient[Any],
    isolation: tuple[str, str],
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "ret")
    messages = mongo_client[f"{isolation[1]}_messaging"]["messages"]
    await send(api, client, cid, devices, "kept only briefly")

    async def stored() -> bool:
        return await messages.count_documents({"conversation_id": cid}) == 1

    await until(stored)
    async with driver_bus(infra.amqp_url, clean_broker) as bus:
        with correlation(None):
            changed = RetentionChanged.create(RetentionData(conversation_id=cid, retention_days=3))
        await bus.publish_event(changed)

    async def stamped() -> bool:
        return (await messages.find_one({"conversation_id": cid}) or {}).get(
            "expires_at"
        ) is not None

    await until(stamped)
    await send(api, coach, cid, devices, "a reply, under the same retention")

    async def both_stamped() -> bool:
        docs = await messages.find({"conversation_id": cid}).to_list()
        return len(docs) == 2 and all(d.get("expires_at") for d in docs)

    await until(both_stamped)
    assert await history(api, coach, cid) == [1, 2]

    async def gone_for_both() -> bool:
        return await history(api, coach, cid) == [] and await history(api, client, cid) == []

    await until(gone_for_both)
    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    assert listed.body["conversations"][0]["last_seq"] == 0

    async def gone_from_the_store() -> bool:  # messaging's own expiry sweep
        return await messages.count_documents({"conversation_id": cid}) == 0

    await until(gone_from_the_store)


async def test_pending_notifications_and_audit_entries_expire(
    api: Api,
    operator: Session,
    mongo_client: AsyncMongoClient[Any],
    isolation: tuple[str, str],
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "res")
    pending = mongo_client[f"{isolation[1]}_notification"]["pending"]
    audit = mongo_client[f"{isolation[1]}_gateway"]["audit"]
    await send(api, client, cid, devices, "to a coach who is offline")  # no socket: owed

    async def owed() -> bool:
        return await pending.count_documents({"device_id": coach.device_id}) == 1

    await until(owed)
    assert await audit.count_documents({"account_id": client.account_id}) > 0

    async def expired() -> bool:
        await sweep_ttl(mongo_client)  # the store's TTL pass, without waiting for its minute
        return (
            await pending.count_documents({"device_id": coach.device_id}) == 0
            and await audit.count_documents({"account_id": client.account_id}) == 0
        )

    await until(expired)


async def test_retention_chosen_in_the_conversation_settings_removes_messages(
    api: Api, operator: Session, mongo_client: AsyncMongoClient[Any], isolation: tuple[str, str]
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "set")
    messages = mongo_client[f"{isolation[1]}_messaging"]["messages"]
    await send(api, coach, cid, devices, "written before the client chose a retention")

    async def stored() -> bool:
        return await messages.count_documents({"conversation_id": cid}) == 1

    await until(stored)
    assert (await messages.find_one({"conversation_id": cid}) or {}).get("expires_at") is None

    chosen = await api.call(
        "PUT", f"/v1/conversations/{cid}/settings", {"retention_days": 2}, client.access_token
    )
    assert chosen.status == 200, chosen.body

    async def reapplied() -> bool:  # the shorter choice wins, also for what was stored before
        doc = await messages.find_one({"conversation_id": cid}) or {}
        return doc.get("expires_at") is not None

    await until(reapplied)
    await send(api, client, cid, devices, "written under two one-second days")

    counters = mongo_client[f"{isolation[1]}_messaging"]["counters"]

    async def second_stored() -> bool:  # its seq is taken (it may expire before we look)
        return ((await counters.find_one({"_id": cid})) or {}).get("seq", 0) >= 2

    await until(second_stored)

    async def gone_for_both() -> bool:
        return await history(api, coach, cid) == [] and await history(api, client, cid) == []

    await until(gone_for_both)

    async def swept() -> bool:  # messaging's own expiry sweep
        return await messages.count_documents({"conversation_id": cid}) == 0

    await until(swept)
