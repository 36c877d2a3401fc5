"""Attachment limits through the running services: the per-account quota holds when uploads
run in parallel (bytes are reserved from the announced length before any body is read, and
given back when an upload fails or a blob goes), and a sent blob follows its conversation's
retention as it is now — a retention shortened after sending removes it, like its message.

A retention "day" lasts one second here, so a retention of 2 days passes in 2 seconds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from pymongo import AsyncMongoClient

from services.gateway.edge.keys import attachments_key
from tests.support.attachments import RawUpload, delete_once_stored, gone, send_with, upload
from tests.support.inprocess import AppStack
from tools.api import Api, Session, coach_and_client

QUOTA = 10_000
SHARED_STACK: dict[str, str] = {
    "HAVEN_ATTACHMENT_QUOTA_BYTES": str(QUOTA),
    "HAVEN_RATE_ATTACHMENTS": "600/minute,100",
    "HAVEN_RETENTION_DAY_SECONDS": "1",
}


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


def _db(mongo_client: AsyncMongoClient[Any], isolation: tuple[str, str]) -> Any:
    return mongo_client[f"{isolation[1]}_gateway"]


async def _stored_bytes(files: Any, account_id: str) -> int:
    return sum(
        [doc["length"] async for doc in files.find({"metadata.uploader": account_id})],
    )


async def test_parallel_uploads_never_pass_the_quota_together(
    api: Api,
    operator: Session,
    mongo_client: AsyncMongoClient[Any],
    isolation: tuple[str, str],
) -> None:
    _, client, cid, _ = await coach_and_client(api, operator, "quotarace")
    db = _db(mongo_client, isolation)
    usage, files = db["attachment_usage"], db["attachments.files"]

    async def counter_is(value: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            counter = await usage.find_one({"_id": client.account_id})
            return counter is not None and counter["bytes"] == value

        return check

    # An upload that breaks off half way (a phone losing its network) gives its bytes back.
    broken = RawUpload(api, client, cid, 1000)
    await broken.head()
    await until(await counter_is(1000))
    await broken.body(b"b" * 400)
    await broken.close()
    await until(await counter_is(0))
    assert await files.count_documents({"metadata.uploader": client.account_id}) == 0

    # Four uploads of 3,000 bytes announce themselves at once (12,000 > the 10,000 quota):
    # each is checked before any of them has sent a byte.
    uploads = [RawUpload(api, client, cid, 3000) for _ in range(4)]
    await asyncio.gather(*(u.head() for u in uploads))
    answers = {asyncio.ensure_future(u.answer()): u for u in uploads}
    # Only a refusal can answer before a body arrives: exactly one comes back, a 413.
    done, waiting = await asyncio.wait(answers, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    assert done, "no upload was refused before its body: together they would pass the quota"
    [first] = done
    status, problem = first.result()
    assert status == 413 and problem["code"] == "quota_exceeded", problem
    await until(await counter_is(9000))
    assert not any(task.done() for task in waiting)  # the other three wait for their bytes
    for task in waiting:
        await answers[task].body(b"r" * 3000)
    results = [await task for task in waiting]
    assert [status for status, _ in results] == [201, 201, 201], results
    for u in uploads:
        await u.close()
    assert await _stored_bytes(files, client.account_id) == 9000

    # The rest of the quota to the byte: 1,000 more fit, then nothing.
    status, body = await upload(api, client, cid, b"f" * 1001, 1001)
    assert status == 413 and body["code"] == "quota_exceeded", body
    status, body = await upload(api, client, cid, b"f" * 1000, 1000)
    assert status == 201, body
    assert await _stored_bytes(files, client.account_id) == QUOTA
    await until(await counter_is(QUOTA))


async def test_removed_blobs_give_their_bytes_back(
    api: Api,
    operator: Session,
    mongo_client: AsyncMongoClient[Any],
    isolation: tuple[str, str],
) -> None:
    coach, _, cid, devices = await coach_and_client(api, operator, "quotaback")
    files = _db(mongo_client, isolation)["attachments.files"]
    ids = []
    for _ in range(3):
        status, body = await upload(api, coach, cid, b"s" * 3000, 3000)
        assert status == 201, body
        ids.append(body["attachment_id"])
    status, body = await upload(api, coach, cid, b"s" * 3000, 3000)
    assert status == 413, body
    status, _, message_id = await send_with(api, coach, cid, devices, ids[:1])
    assert status == 202
    deleted = await delete_once_stored(api, coach, cid, message_id)
    assert deleted.status == 202, deleted.body
    assert await gone(files, ids[0])
    status, body = await upload(api, coach, cid, b"s" * 3000, 3000)
    assert status == 201, body


async def test_a_shortened_retention_removes_blobs_already_sent(
    api: Api,
    operator: Session,
    app_stack: AppStack,
    mongo_client: AsyncMongoClient[Any],
    isolation: tuple[str, str],
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "attret")
    files = _db(mongo_client, isolation)["attachments.files"]
    messages = mongo_client[f"{isolation[1]}_messaging"]["messages"]

    async def choose(who: Session, days: int | None) -> None:
        reply = await api.call(
            "PUT", f"/v1/conversations/{cid}/settings", {"retention_days": days}, who.access_token
        )
        assert reply.status == 200, reply.body
        assert reply.body["effective_retention_days"] == days

    # Sent under a retention of 600 "days" (ten minutes here): it would stay for the test.
    await choose(client, 600)
    _, early = await upload(api, coach, cid, b"e" * 2000, 2000)
    status, _, early_message = await send_with(api, coach, cid, devices, [early["attachment_id"]])
    assert status == 202

    async def stored() -> bool:
        return await messages.count_documents({"message_id": early_message}) == 1

    await until(stored)
    # Shortened to 2 days (2 s) after sending: the message and its blob go within seconds.
    await choose(client, 2)
    assert await gone(files, early["attachment_id"], within=20)

    async def message_gone() -> bool:
        history = await api.call(
            "GET", f"/v1/conversations/{cid}/messages?after_seq=0", token=client.access_token
        )
        return early_message not in [m["message_id"] for m in history.body["messages"]]

    await until(message_gone)

    # Sent under 8 days (8 s), then lengthened to "keep": it outlives the old retention.
    await choose(client, 8)
    _, late = await upload(api, coach, cid, b"l" * 2000, 2000)
    status, _, _ = await send_with(api, coach, cid, devices, [late["attachment_id"]])
    assert status == 202
    await choose(client, None)
    sent_at = (await files.find_one({"_id": late["attachment_id"]}))["metadata"]["sent_at"]
    # The gateway's retention sweep (what its background loop runs every 0.5 s here), run as
    # if well past the old retention: nothing may go. Under the old 8 days it removes the blob.
    sweep = app_stack.replicas["gateway"].runners[0].app[attachments_key]
    await sweep.expire(sent_at + timedelta(seconds=8 + 10))
    assert await files.find_one({"_id": late["attachment_id"]}) is not None
