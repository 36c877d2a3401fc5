"""The readable export's files: every attachment of an opened message, decrypted offline from
the export's own `attachments` member into one folder beside the readable page.

Everything needed is in the export document (the blobs, base64url) and in the opened
messages (each file's key, SHA-256, name and size, from inside the ciphertext), so this runs
with no network. Each file is checked as a download is (``BlobDecryptor``: length, hash,
every chunk, zero padding) and written 0600 through the keystore, whose panic wipe shreds it.
The sender chose the names: they become safe, distinct local names (``filenames``), never
paths. A message's readable record gets ``files``: one entry per file with ``status`` "ok"
(and ``path``, relative to the readable page), "missing" (the export holds no blob: removed
or expired) or "unreadable" (and why).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from haven_client.filenames import NameBook
from haven_client.keystore import Keystore
from haven_crypto.attachments import AttachmentError, AttachmentRef, decrypt_bytes
from haven_crypto.crypto import b64d

__all__ = ["files_folder", "open_export_files"]


def files_folder(html_path: str | os.PathLike[str]) -> Path:
    """A new folder for this export's files beside its readable page: ``NAME.files``, or
    ``NAME.files-2``, … when an earlier export left one (never mixed, never overwritten)."""
    page = Path(html_path)
    stem = page.name.removesuffix(".html").removesuffix(".readable")
    candidate, number = page.with_name(f"{stem}.files"), 1
    while candidate.exists():
        number += 1
        candidate = page.with_name(f"{stem}.files-{number}")
    return candidate


def open_export_files(
    document: Mapping[str, Any],
    readable: Mapping[str, Any],
    folder: str | os.PathLike[str],
    keystore: Keystore,
) -> dict[str, Any]:
    """Decrypt every file of the readable export's opened messages into ``folder`` (created
    0700 when there is a file to write); the readable export with ``files`` on those
    messages, their paths relative to the folder's parent (where the readable page is)."""
    target = Path(folder)
    blobs = {
        (str(entry.get("conversation_id")), str(entry.get("attachment_id"))): entry
        for entry in document.get("attachments") or []
        if isinstance(entry, Mapping)
    }
    names = NameBook(target)
    messages = []
    for record in readable.get("messages", []):
        payload = record.get("payload")
        if record.get("status") != "ok" or not isinstance(payload, dict):
            messages.append(dict(record))
            continue
        try:
            refs = [AttachmentRef.from_payload(e) for e in _entries(payload)]
        except AttachmentError as error:
            messages.append(dict(record) | {"files": [_unreadable({}, str(error))]})
            continue
        if not refs:
            messages.append(dict(record))
            continue
        conversation_id = str(record.get("conversation_id"))
        files = [
            _open_one(ref, blobs.get((conversation_id, ref.attachment_id)), names, keystore)
            for ref in refs
        ]
        messages.append(dict(record) | {"files": files})
    return dict(readable) | {"messages": messages, "files_folder": target.name}


def _entries(payload: Mapping[str, Any]) -> list[Any]:
    entries = payload.get("attachments", [])
    if not isinstance(entries, list):
        raise AttachmentError("attachments must be a list")
    return entries


def _describe(ref: AttachmentRef) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": ref.name, "mime": ref.mime, "size": ref.size}
    if ref.duration_ms is not None:
        entry["duration_ms"] = ref.duration_ms
    return entry


def _unreadable(described: dict[str, Any], reason: str) -> dict[str, Any]:
    return described | {"status": "unreadable", "reason": reason}


def _open_one(
    ref: AttachmentRef,
    exported: Mapping[str, Any] | None,
    names: NameBook,
    keystore: Keystore,
) -> dict[str, Any]:
    described = _describe(ref)
    if exported is None:
        return described | {"status": "missing"}
    try:
        blob = b64d(str(exported.get("blob", "")))
        plaintext = decrypt_bytes(blob, ref)
    except ValueError as error:  # AttachmentError and a malformed base64url alike
        return _unreadable(described, str(error))
    path = names.claim(ref.name)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    keystore.write_decrypted(path, plaintext)
    return described | {"status": "ok", "path": f"{path.parent.name}/{path.name}"}
