"""An upload the sweep gave up on (stalled past an hour while arriving) through the running
services: the uploader is told (409), nothing it wrote afterwards stays behind as chunks no files
document owns, and its bytes are not counted twice or left reserved. And odd `Range` and
`Content-Length` headers are answered (200/206/416, or 4xx), never with a 500."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient
from yarl import URL

from tests.support.attachments import RawUpload, attachments_url, upload
from tools.api import Api, Session, coach_and_client

CHUNK = 65_553  # one GridFS chunk: one ciphertext chunk
SHARED_STACK: dict[str, str] = {
    "HAVEN_ATTACHMENT_QUOTA_BYTES": str(10 * CHUNK),
    "HAVEN_RETENTION_DAY_SECONDS": "1",  # the sweep runs every half second
}


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


async def test_an_upload_swept_while_arriving_leaves_nothing_behind(
    api: Api,
    operator: Session,
    mongo_client: AsyncMongoClient[Any],
    isolation: tuple[str, str],
) -> None:
    _, client, cid, _ = await coach_and_client(api, operator, "stalled")
    db = mongo_client[f"{isolation[1]}_gateway"]
    files, chunks, usage = db["attachments.files"], db["attachments.chunks"], db["attachment_usage"]
    mine = {"metadata.uploader": client.account_id}

    slow = RawUpload(api, client, cid, 2 * CHUNK)
    await slow.head()
    await slow.body(b"s" * (CHUNK + 10))  # one whole chunk is stored, a little more buffered

    async def first_chunk_stored() -> bool:
        doc = await files.find_one(mine)
        return doc is not None and await chunks.count_documents({"files_id": doc["_id"]}) == 1

    await until(first_chunk_stored)
    # An hour passes (as far as the sweep can tell) with the rest of the body still to come.
    await files.update_many(
        mine, {"$set": {"metadata.uploaded_at": datetime.now(UTC) - timedelta(hours=2)}}
    )

    async def swept() -> bool:
        return await files.count_documents(mine) == 0

    await until(swept)
    await slow.body(b"s" * (CHUNK - 10))
    status, problem = await slow.answer()
    await slow.close()
    assert status == 409 and problem["code"] == "conflict", (status, problem)

    # The same, but the phone breaks off after the sweep (a chunk stored after it).
    broken = RawUpload(api, client, cid, 3 * CHUNK)
    await broken.head()
    await broken.body(b"b" * (CHUNK + 10))
    await until(first_chunk_stored)
    await files.update_many(
        mine, {"$set": {"metadata.uploaded_at": datetime.now(UTC) - timedelta(hours=2)}}
    )
    await until(swept)
    await broken.body(b"b" * CHUNK)  # a second chunk, written for a removed upload
    await asyncio.sleep(0.5)
    await broken.close()

    async def no_chunks() -> bool:
        return await chunks.count_documents({}) == 0

    await until(no_chunks)

    owned = set(await files.distinct("_id"))
    orphans = [c["files_id"] async for c in chunks.find({}, {"files_id": 1})]
    assert [o for o in orphans if o not in owned] == []
    counter = await usage.find_one({"_id": client.account_id})
    assert counter is None or counter["bytes"] == 0, counter


async def test_odd_ranges_and_lengths_are_answered_never_a_500(api: Api, operator: Session) -> None:
    _, client, cid, _ = await coach_and_client(api, operator, "oddrange")
    status, stored = await upload(api, client, cid, b"x" * 5000, 5000)
    assert status == 201, stored
    url = attachments_url(api, cid, stored["attachment_id"])
    auth = {"Authorization": f"Bearer {client.access_token}"}
    for value in (
        "bytes=0-99999999999999999999999999999999",
        "bytes=99999999999999999999999999999999-",
        "bytes=-99999999999999999999999999999999",
        "bytes=-0",
        "bytes=5-3",
        "bytes=0-1,5-6",
        "bytes=--1",
        "items=0-1",
        "bytes=" + "9" * 5000 + "-",
    ):
        async with api.http.get(url, headers=auth | {"Range": value}) as response:
            await response.read()
            assert response.status in (200, 206, 416), (value, response.status)
    for odd in ("att_" + "A" * 3000, "%00", "..%2F..%2Fx", "$where"):
        async with api.http.get(attachments_url(api, cid, odd), headers=auth) as response:
            assert response.status == 404, (odd, response.status)
    target = URL(attachments_url(api, cid))
    for length in ("99999999999999999999999999", "9" * 5000, "-5", "1e3", "0x10"):
        reader, writer = await asyncio.open_connection(target.host, target.port)
        writer.write(
            (
                f"POST {target.path} HTTP/1.1\r\nHost: {target.host}\r\n"
                f"Authorization: Bearer {client.access_token}\r\n"
                "Content-Type: application/octet-stream\r\n"
                f"Content-Length: {length}\r\n\r\n1234567"
            ).encode()
        )
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        writer.close()
        assert 400 <= status < 500, (length[:40], status)
