"""Encrypted attachments through the running services (API.md "Attachments"): a 20 MiB file
goes up and comes back byte-identical in flat memory, GridFS holds no plaintext, the rules of
sending apply, and blobs follow their message (sweep, delete for everyone, account deletion)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import tracemalloc
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from yarl import URL

from haven_crypto.attachments import (
    AttachmentRef,
    BlobDecryptor,
    blob_length,
    encrypt_stream,
    new_key,
)
from services.gateway.edge.keys import attachments_key
from shared.events import utcnow
from tests.support.attachments import attachments_url, delete_once_stored, gone, send_with, upload
from tests.support.inprocess import AppStack
from tests.support.ws import bearer, frame_of_type, ws_url
from tools.api import Api, Session, coach_and_client, seal_for

MIB = 2**20
BIG = 20 * MIB
PIECE = 256 * 1024
GRACE = 2  # HAVEN_ATTACHMENT_GRACE_SECONDS of TestLifecycle


# One stack for this module's tests (tests/support/sharing.py), with this environment; the
# classes below change it, so each of their tests has a stack of its own.
SHARED_STACK: dict[str, str] = {
    "HAVEN_ATTACHMENT_MAX_BYTES": str(21 * MIB),
    "HAVEN_RATE_ATTACHMENTS": "100/minute,50",
}


def _url(api: Api, cid: str, attachment_id: str = "") -> str:
    return attachments_url(api, cid, attachment_id)


async def _file_body(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while piece := source.read(PIECE):
            yield piece


async def announce_only(api: Api, who: Session, cid: str, length: int) -> bytes:
    """Send only the request head of an upload of `length` bytes; the raw answer."""
    url = URL(_url(api, cid))
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(
        (
            f"POST {url.path} HTTP/1.1\r\nHost: {url.host}\r\n"
            f"Authorization: Bearer {who.access_token}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    # The server answers and closes the connection instead of draining a body it refused.
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    return answer


async def download(api: Api, who: Session, cid: str, attachment_id: str, out: Path) -> int:
    headers = {"Authorization": f"Bearer {who.access_token}"}
    async with api.http.get(_url(api, cid, attachment_id), headers=headers) as response:
        if response.status != 200:
            return response.status
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert "no-store" in response.headers["Cache-Control"]
        with out.open("wb") as sink:
            async for piece in response.content.iter_chunked(PIECE):
                sink.write(piece)
        return 200


def _sha256(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while piece := source.read(MIB):
            digest.update(piece)
    return digest.digest()


@pytest.mark.timeout(90)
async def test_a_20_mib_file_round_trips_in_flat_memory(
    api: Api,
    operator: Session,
    mongo_client: AsyncMongoClient[Any],
    isolation: tuple[str, str],
    tmp_path: Path,
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "att20")
    plain_path, blob_path, back_path = tmp_path / "plain", tmp_path / "blob", tmp_path / "back"
    plain_path.write_bytes(os.urandom(BIG))
    key = new_key()
    with plain_path.open("rb") as source, blob_path.open("wb") as sink:
        pieces = iter(lambda: source.read(PIECE), b"")
        for piece in encrypt_stream(pieces, BIG, key):
            sink.write(piece)
    length = blob_path.stat().st_size
    assert length == blob_length(BIG)

    tracemalloc.start()
    status, body = await upload(api, coach, cid, _file_body(blob_path), length)
    _, upload_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert status == 201, body
    assert body["size"] == length
    attachment_id = body["attachment_id"]

    # GridFS holds even, opaque chunks: no 4 KiB of the plaintext appears in any of them.
    chunks = mongo_client[f"{isolation[1]}_gateway"]["attachments.chunks"]
    probe = plain_path.read_bytes()[:4096]
    sizes = []
    async for chunk in chunks.find({"files_id": attachment_id}, batch_size=16):
        sizes.append(len(chunk["data"]))
        assert probe not in bytes(chunk["data"])
    assert sum(sizes) == length and len(set(sizes[:-1])) == 1 and sizes[0] == 64 * 1024 + 17

    status, sent, _ = await send_with(api, coach, cid, devices, [attachment_id])
    assert status == 202, sent
    reused, problem, _ = await send_with(api, coach, cid, devices, [attachment_id])
    assert reused == 422 and problem["code"] == "invalid_request", problem

    tracemalloc.start()
    assert await download(api, client, cid, attachment_id, back_path) == 200
    _, download_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"20 MiB attachment: upload peak {upload_peak / MIB:.2f} MiB, "
        f"download peak {download_peak / MIB:.2f} MiB (tracemalloc, all three services in-process)"
    )
    assert upload_peak < 10 * MIB and download_peak < 10 * MIB
    ref = AttachmentRef(attachment_id, key, _sha256(blob_path), "application/pdf", "x.pdf", BIG)
    assert _sha256(back_path) == ref.sha256
    opener, digest = BlobDecryptor(ref), hashlib.sha256()
    with back_path.open("rb") as source:
        while piece := source.read(PIECE):
            digest.update(opener.feed(piece))
    digest.update(opener.finish())
    assert digest.digest() == _sha256(plain_path)

    headers = {"Authorization": f"Bearer {client.access_token}", "Range": "bytes=100-199"}
    async with api.http.get(_url(api, cid, attachment_id), headers=headers) as response:
        assert response.status == 206
        assert response.headers["Content-Range"] == f"bytes 100-199/{length}"
        with blob_path.open("rb") as source:
            source.seek(100)
            assert await response.read() == source.read(100)


async def test_only_participants_of_open_conversations_upload(
    api: Api, operator: Session, tmp_path: Path
) -> None:
    coach, client, cid, _ = await coach_and_client(api, operator, "attrules")
    outsider, _, _, _ = await coach_and_client(api, operator, "attout")
    status, body = await upload(api, client, cid, b"x" * 2000, 2000)
    assert status == 201, body
    attachment_id = body["attachment_id"]

    status, body = await upload(api, outsider, cid, b"x" * 2000, 2000)
    assert status == 404 and body["code"] == "not_found"
    assert await download(api, outsider, cid, attachment_id, tmp_path / "o") == 404
    # Not yet sent: only its uploader sees it.
    assert await download(api, coach, cid, attachment_id, tmp_path / "c") == 404
    assert await download(api, client, cid, attachment_id, tmp_path / "c") == 200

    headers = {"Authorization": f"Bearer {client.access_token}"}
    async with api.http.post(_url(api, cid), data=b"", headers=headers) as response:
        assert response.status in (400, 411)
    # Announced, never sent: the answer comes before the body is read.
    head = await announce_only(api, client, cid, 21 * MIB + 1)
    assert head.startswith(b"HTTP/1.1 413") and b"payload_too_large" in head, head

    paused = await api.call(
        "POST", f"/v1/conversations/{cid}/pause", {"reason": "holiday"}, coach.access_token
    )
    assert paused.status == 200, paused.body
    status, body = await upload(api, client, cid, b"x" * 2000, 2000)
    assert status == 409 and body["code"] == "paused", body
    resumed = await api.call("POST", f"/v1/conversations/{cid}/resume", None, coach.access_token)
    assert resumed.status == 200, resumed.body
    ended = await api.call("POST", f"/v1/conversations/{cid}/end", None, coach.access_token)
    assert ended.status in (200, 202, 204), ended.body
    status, body = await upload(api, client, cid, b"x" * 2000, 2000)
    assert status == 409 and body["code"] == "conflict", body


@pytest.mark.fresh_stack
class TestLifecycle:
    @pytest.fixture
    def stack_overrides(self) -> dict[str, str]:
        return {"HAVEN_ATTACHMENT_GRACE_SECONDS": str(GRACE)}

    async def test_blobs_follow_their_message(
        self,
        api: Api,
        operator: Session,
        app_stack: AppStack,
        mongo_client: AsyncMongoClient[Any],
        isolation: tuple[str, str],
    ) -> None:
        coach, client, cid, devices = await coach_and_client(api, operator, "attlife")
        db = mongo_client[f"{isolation[1]}_gateway"]
        files, chunks = db["attachments.files"], db["attachments.chunks"]

        # Never referenced: swept after the (shortened) grace period.
        _, unused = await upload(api, client, cid, b"u" * 3000, 3000)
        assert await gone(files, unused["attachment_id"])
        assert await chunks.count_documents({"files_id": unused["attachment_id"]}) == 0

        # Deleted for everyone: its blob goes with it.
        _, kept = await upload(api, coach, cid, b"k" * 3000, 3000)
        status, _, message_id = await send_with(api, coach, cid, devices, [kept["attachment_id"]])
        assert status == 202
        # The gateway's sweep (what its background loop runs), as if past the grace period:
        # a sent blob is not swept (it would be, were it still pending).
        sweep = app_stack.replicas["gateway"].runners[0].app[attachments_key]
        await sweep.sweep(utcnow() + timedelta(seconds=GRACE + 1))
        assert await files.find_one({"_id": kept["attachment_id"]}) is not None
        deleted = await delete_once_stored(api, coach, cid, message_id)
        assert deleted.status == 202, deleted.body
        assert await gone(files, kept["attachment_id"])

        # Retention expiry: tests/integration/api/test_attachment_limits.py (a real one).

        # Account deletion removes what the account uploaded.
        _, mine = await upload(api, client, cid, b"m" * 3000, 3000)
        status, _, _ = await send_with(api, client, cid, devices, [mine["attachment_id"]])
        assert status == 202
        deleting = await api.call(
            "POST", "/v1/me/delete", {"password": client.password}, client.access_token
        )
        assert deleting.status == 202, deleting.body
        assert any("attachment" in line for line in deleting.body["receipt"]["deletes"])
        assert await gone(files, mine["attachment_id"])
        assert await chunks.count_documents({"files_id": mine["attachment_id"]}) == 0


@pytest.mark.fresh_stack
class TestQuota:
    @pytest.fixture
    def stack_overrides(self) -> dict[str, str]:
        return {"HAVEN_ATTACHMENT_QUOTA_BYTES": "5000"}

    async def test_the_quota_is_a_clear_413(self, api: Api, operator: Session) -> None:
        _, client, cid, _ = await coach_and_client(api, operator, "attquota")
        status, _ = await upload(api, client, cid, b"q" * 3000, 3000)
        assert status == 201
        status, body = await upload(api, client, cid, b"q" * 3000, 3000)
        assert status == 413 and body["code"] == "quota_exceeded", body


async def test_the_export_holds_the_conversations_files(api: Api, operator: Session) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "attexp")
    blob = os.urandom(70_000)  # two stored chunks, not a multiple of 3
    _, stored = await upload(api, coach, cid, blob, len(blob))
    status, _, message_id = await send_with(api, coach, cid, devices, [stored["attachment_id"]])
    assert status == 202
    exported = await api.call("GET", "/v1/me/export", token=client.access_token)
    assert exported.status == 200 and exported.body["complete"] is True
    [entry] = exported.body["attachments"]
    assert entry["attachment_id"] == stored["attachment_id"]
    assert entry["message_id"] == message_id and entry["size"] == len(blob)
    padded = entry["blob"] + "=" * (-len(entry["blob"]) % 4)
    assert base64.urlsafe_b64decode(padded) == blob


async def test_a_websocket_send_ties_its_files_too(
    app_stack: AppStack, api: Api, operator: Session, tmp_path: Path
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "attws")
    _, stored = await upload(api, client, cid, b"w" * 4000, 4000)
    async with api.http.ws_connect(ws_url(app_stack), headers=bearer(client.access_token)) as ws:
        assert (await frame_of_type(ws, "ready"))["type"] == "ready"
        envelope = seal_for(client, cid, devices, "voice note")
        too_many = [stored["attachment_id"]] * 11
        await ws.send_json(
            {
                "type": "send",
                "conversation_id": cid,
                "envelope": envelope,
                "attachment_ids": too_many,
            }
        )
        refused = await frame_of_type(ws, "error")
        assert refused["code"] == "invalid_request", refused
        ids = [stored["attachment_id"]]
        await ws.send_json(
            {"type": "send", "conversation_id": cid, "envelope": envelope, "attachment_ids": ids}
        )
        accepted = await frame_of_type(ws, "accepted")
        assert accepted["message_id"] == envelope["message_id"]
    # Sent now: the coach may fetch it.
    assert await download(api, coach, cid, stored["attachment_id"], tmp_path / "w") == 200


@pytest.mark.fresh_stack
class TestRulesOfSending:
    """Consent and the upload rate apply as for sending; the body's type and a range that
    cannot be served are clear 4xx answers too."""

    @pytest.fixture
    def stack_overrides(self) -> dict[str, str]:
        return {"HAVEN_RATE_ATTACHMENTS": "4/hour,4"}

    async def test_consent_rate_type_and_range(self, api: Api, operator: Session) -> None:
        _, client, cid, _ = await coach_and_client(api, operator, "attrate")
        agreement = {"version": "2026-12", "text": "Files too: not a crisis service."}
        published = await api.call("PUT", "/v1/admin/agreement", agreement, operator.access_token)
        assert published.status == 200, published.body
        status, body = await upload(api, client, cid, b"c" * 2000, 2000)
        assert status == 403 and body["code"] == "consent_required", body
        accepted = await api.call(
            "POST", "/v1/agreement/accept", {"version": "2026-12"}, client.access_token
        )
        assert accepted.status in (200, 204), accepted.body

        headers = {
            "Authorization": f"Bearer {client.access_token}",
            "Content-Type": "text/plain",
            "Content-Length": "2000",
        }
        async with api.http.post(_url(api, cid), data=b"t" * 2000, headers=headers) as response:
            assert response.status == 415
            assert (await response.json(content_type=None))["code"] == "unsupported_media_type"

        ids = []
        for _ in range(4):
            status, body = await upload(api, client, cid, b"r" * 2000, 2000)
            assert status == 201, body
            ids.append(body["attachment_id"])
        status, body = await upload(api, client, cid, b"r" * 2000, 2000)
        assert status == 429 and body["code"] == "rate_limited", body

        headers = {"Authorization": f"Bearer {client.access_token}", "Range": "bytes=5000-"}
        async with api.http.get(_url(api, cid, ids[0]), headers=headers) as response:
            assert response.status == 416
            assert response.headers["Content-Range"] == "bytes */2000"
