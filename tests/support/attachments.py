"""Attachment calls as a companion app makes them, for the tests that go through the running
services: upload (whole, or only the request head over a raw connection), send a message that
lists files, and wait for a blob to leave GridFS."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from yarl import URL

from tools.api import Api, Reply, Session, seal_for


def attachments_url(api: Api, cid: str, attachment_id: str = "") -> str:
    tail = f"/{attachment_id}" if attachment_id else ""
    return f"{api.base}/v1/conversations/{cid}/attachments{tail}"


async def upload(api: Api, who: Session, cid: str, body: Any, length: int) -> tuple[int, Any]:
    headers = {
        "Authorization": f"Bearer {who.access_token}",
        "Content-Type": "application/octet-stream",
        "Content-Length": str(length),
    }
    async with api.http.post(attachments_url(api, cid), data=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


class RawUpload:
    """One upload over its own connection, the request head first and the body only when the
    test says: what a slow phone on a bad network does, and what parallel uploads look like."""

    def __init__(self, api: Api, who: Session, cid: str, length: int) -> None:
        self.url = URL(attachments_url(api, cid))
        self.token = who.access_token
        self.length = length
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def head(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.url.host, self.url.port)
        self.writer.write(
            (
                f"POST {self.url.path} HTTP/1.1\r\nHost: {self.url.host}\r\n"
                f"Authorization: Bearer {self.token}\r\n"
                "Content-Type: application/octet-stream\r\n"
                f"Content-Length: {self.length}\r\n\r\n"
            ).encode()
        )
        await self.writer.drain()

    async def body(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self) -> tuple[int, Any]:
        """The status and JSON body of the answer (whether or not the body was sent)."""
        assert self.reader is not None
        status = int((await self.reader.readline()).split()[1])
        length = None
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        raw = await (self.reader.readexactly(length) if length is not None else self.reader.read())
        return status, json.loads(raw) if raw else None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def send_with(
    api: Api, sender: Session, cid: str, devices: dict[str, bytes], ids: list[str]
) -> tuple[int, Any, str]:
    """Send a message listing these uploads; (status, body, message id)."""
    message_id = str(uuid.uuid4())
    envelope = seal_for(sender, cid, devices, "see attached", message_id=message_id)
    reply = await api.call(
        "POST",
        f"/v1/conversations/{cid}/messages",
        {"envelope": envelope, "attachment_ids": ids},
        sender.access_token,
    )
    return reply.status, reply.body, message_id


async def delete_once_stored(api: Api, who: Session, cid: str, message_id: str) -> Reply:
    """Delete a just-accepted message for everyone, retrying its 404 until messaging stored it."""
    for _ in range(40):
        deleted = await api.call(
            "DELETE", f"/v1/conversations/{cid}/messages/{message_id}", None, who.access_token
        )
        if deleted.status != 404:
            break
        await asyncio.sleep(0.25)
    return deleted


async def gone(files: Any, attachment_id: str, within: float = 15.0) -> bool:
    """Whether the blob's files document is removed within ``within`` seconds."""
    for _ in range(int(within / 0.25)):
        if await files.find_one({"_id": attachment_id}) is None:
            return True
        await asyncio.sleep(0.25)
    return False
