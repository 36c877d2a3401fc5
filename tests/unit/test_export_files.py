"""The readable export's files, offline (haven_client.export_files): each file of an opened
message is checked and decrypted beside the page; a blob the export lacks is `missing`, one
that fails a check (a flipped byte) or a malformed list is `unreadable` — never a file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from haven_client.export_files import files_folder, open_export_files
from haven_client.keystore import KdfParams, Keystore
from haven_crypto.attachments import AttachmentRef, encrypt_bytes, new_key
from haven_crypto.crypto import b64e


def _file(attachment_id: str, name: str, data: bytes) -> tuple[AttachmentRef, bytes]:
    key = new_key()
    blob = encrypt_bytes(data, key)
    ref = AttachmentRef(
        attachment_id, key, hashlib.sha256(blob).digest(), "text/plain", name, len(data)
    )
    return ref, blob


def _exported(cid: str, ref: AttachmentRef, blob: bytes) -> dict[str, Any]:
    return {"attachment_id": ref.attachment_id, "conversation_id": cid, "blob": b64e(blob)}


async def test_files_are_opened_missing_or_unreadable(tmp_path: Path) -> None:
    store = await Keystore.create(tmp_path / "k.keystore", "passphrase", KdfParams.minimal())
    good, good_blob = _file("att_good", "plan.txt", b"a plan" * 300)
    lost, _ = _file("att_lost", "lost.txt", b"gone")
    bad, bad_blob = _file("att_bad", "bad.txt", os.urandom(5000))
    flipped = bytearray(bad_blob)
    flipped[100] ^= 1
    other, other_blob = _file("att_other", "other.txt", b"another conversation's")
    document = {
        "attachments": [
            _exported("c1", good, good_blob),
            _exported("c1", bad, bytes(flipped)),
            _exported("c2", other, other_blob),  # not this message's conversation
        ]
    }
    refs = [good, lost, bad, other]
    readable = {
        "messages": [
            {
                "conversation_id": "c1",
                "message_id": "m1",
                "status": "ok",
                "payload": {"body": "", "attachments": [r.to_payload() for r in refs]},
            },
            {
                "conversation_id": "c1",
                "message_id": "m2",
                "status": "ok",
                "payload": {"body": "", "attachments": "not a list"},
            },
            {"conversation_id": "c1", "message_id": "m3", "status": "deleted"},
        ]
    }
    folder = files_folder(tmp_path / "export.readable.html")
    assert folder == tmp_path / "export.files"
    opened = open_export_files(document, readable, folder, store)
    files = opened["messages"][0]["files"]
    assert [f["status"] for f in files] == ["ok", "missing", "unreadable", "missing"]
    assert files[0]["path"] == "export.files/plan.txt"
    assert (tmp_path / files[0]["path"]).read_bytes() == b"a plan" * 300
    assert "SHA-256" in files[2]["reason"]
    assert sorted(p.name for p in folder.iterdir()) == ["plan.txt"]  # nothing half-written
    assert opened["messages"][1]["files"][0]["status"] == "unreadable"
    assert "files" not in opened["messages"][2]
    assert str((folder / "plan.txt").resolve()) in store.state.decrypted_files
    # A second export beside the first gets a folder of its own.
    assert files_folder(tmp_path / "export.readable.html") == tmp_path / "export.files-2"
    store.close()
