"""Sending and saving encrypted files and voice notes (docs/attachments.md): encrypt, upload,
list in the payload (an audio file with its length); download, check, decrypt, unpad. Bytes
stream through temporary files, never all in memory, and a saved file appears only once every
check passed."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from haven_client.audio import probe
from haven_client.errors import HavenError
from haven_client.events import ReceivedMessage
from haven_client.filenames import NameBook
from haven_client.sender import text_payload
from haven_client.transport import _problem
from haven_crypto.attachments import (
    MAX_ATTACHMENTS,
    AttachmentError,
    AttachmentRef,
    BlobDecryptor,
    encrypt_stream,
    new_key,
    refs_from_payload,
)

if TYPE_CHECKING:
    from haven_client.client import HavenClient

PIECE = 256 * 1024


def _read(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while piece := source.read(PIECE):
            yield piece


def _size(path: Path) -> int:
    return path.stat().st_size


def _targets(dest: Path, refs: list[AttachmentRef]) -> list[Path]:
    if dest.is_dir():
        # The sender chose the names: safe and distinct, never a path, never over a file.
        names = NameBook(dest)
        return [names.claim(ref.name) for ref in refs]
    if len(refs) == 1:
        return [dest]
    raise HavenError("that message has several files: give a directory")


async def _checked(response: aiohttp.ClientResponse) -> None:
    if response.status >= 400:
        raise _problem(response, await response.json(content_type=None))


async def upload_file(
    client: HavenClient, conversation_id: str, path: Path, duration_ms: int | None = None
) -> AttachmentRef:
    """Encrypt ``path`` under a fresh key, upload the blob; the reference for the payload.
    An audio file is a voice note: its type and ``duration_ms`` come from its headers
    (``haven_client.audio``) unless ``duration_ms`` is given; a length nobody knows is left
    out, never guessed."""
    audio = probe(path)
    if duration_ms is not None and (duration_ms <= 0 or audio is None):
        raise HavenError("a duration is for an audio file (a voice note), and above zero")
    size = _size(path)
    key = new_key()
    digest = hashlib.sha256()
    with tempfile.TemporaryFile() as blob:
        for piece in encrypt_stream(_read(path), size, key):
            digest.update(piece)
            blob.write(piece)
        length = blob.tell()
        blob.seek(0)
        answer = await _upload(client, conversation_id, blob, length)
    mime = audio.mime if audio else mimetypes.guess_type(path.name)[0]
    return AttachmentRef(
        attachment_id=str(answer["attachment_id"]),
        key=key,
        sha256=digest.digest(),
        mime=mime or "application/octet-stream",
        name=path.name,
        size=size,
        duration_ms=duration_ms
        if duration_ms is not None
        else audio.duration_ms
        if audio
        else None,
    )


async def _upload(client: HavenClient, conversation_id: str, blob: Any, length: int) -> Any:
    transport = client.transport
    url = f"{transport.base_url}/v1/conversations/{conversation_id}/attachments"
    headers = {
        "Authorization": f"Bearer {await transport.access_token()}",
        "Content-Type": "application/octet-stream",
        "Content-Length": str(length),
    }
    async with transport.http.post(url, data=blob, headers=headers) as response:
        body = await response.json(content_type=None)
        if response.status >= 400:
            raise _problem(response, body)
        return body


async def send_files(
    client: HavenClient,
    conversation_id: str,
    paths: list[Path],
    body: str = "",
    duration_ms: int | None = None,
) -> str:
    """Upload each file and send one message that lists them; its message id.
    ``duration_ms`` is the length of a single voice note whose headers do not state it."""
    if not paths or len(paths) > MAX_ATTACHMENTS:
        raise HavenError(f"send between 1 and {MAX_ATTACHMENTS} files at once")
    if duration_ms is not None and len(paths) != 1:
        raise HavenError("a duration is for one voice note sent on its own")
    refs = [await upload_file(client, conversation_id, path, duration_ms) for path in paths]
    payload = text_payload(body) | {"attachments": [ref.to_payload() for ref in refs]}
    receipt = await client.send(
        conversation_id, payload, attachment_ids=[ref.attachment_id for ref in refs]
    )
    return receipt.message_id


async def find_message(
    client: HavenClient, conversation_id: str, message_id: str
) -> ReceivedMessage:
    """The decrypted message, searched newest first through the history."""
    listing = {c.conversation_id: c for c in await client.conversations()}
    if conversation_id not in listing:
        raise HavenError("no such conversation")
    before = listing[conversation_id].last_seq + 1
    while True:
        page, more = await client.history(conversation_id, before_seq=before, limit=100)
        for item in page:
            if item.message_id == message_id and isinstance(item, ReceivedMessage):
                return item
        seqs = [item.seq for item in page if item.seq is not None]
        if not more or not seqs:
            raise HavenError("no readable message with that id in this conversation")
        before = min(seqs)


async def save_file(
    client: HavenClient, conversation_id: str, ref: AttachmentRef, dest: Path
) -> Path:
    """Download, verify and decrypt one file to ``dest`` (mode 0600), all checks or nothing."""
    transport = client.transport
    url = f"{transport.base_url}/v1/conversations/{conversation_id}/attachments/{ref.attachment_id}"
    headers = {"Authorization": f"Bearer {await transport.access_token()}"}
    opener = BlobDecryptor(ref)
    partial = dest.with_name(f".{dest.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as sink:
            async with transport.http.get(url, headers=headers) as response:
                await _checked(response)
                async for piece in response.content.iter_chunked(PIECE):
                    sink.write(opener.feed(piece))
            sink.write(opener.finish())
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return dest


async def save_attachments(
    client: HavenClient, conversation_id: str, message_id: str, dest: Path
) -> list[Path]:
    """Every file of a message: into ``dest`` if it is a directory (by their names), else to
    ``dest`` itself when the message has exactly one file."""
    message = await find_message(client, conversation_id, message_id)
    refs = refs_from_payload(message.payload)
    if not refs:
        raise AttachmentError("that message has no files")
    targets = _targets(dest, refs)
    return [
        await save_file(client, conversation_id, r, t) for r, t in zip(refs, targets, strict=True)
    ]
