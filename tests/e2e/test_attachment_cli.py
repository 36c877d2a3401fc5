"""The attachment journey as people type it: a coach sends a PDF with `haven send --file`, the
client saves it with `haven save-attachment`, and it is the same file, readable only by them;
a voice note carries its length and reads as one; the readable export holds every file,
decrypted beside its page, and opens them again offline."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
from pathlib import Path
from urllib.parse import unquote

import pytest

from haven_client.attachments import upload_file
from haven_client.client import HavenClient
from haven_client.export import decrypt_export
from haven_client.export_files import open_export_files
from haven_client.keystore import Keystore
from haven_client.sender import text_payload
from tests.support import audiofiles
from tests.support.cli import PASSPHRASE, Cast, onboard_fast
from tools.stack import Stack


@pytest.fixture(scope="module")
async def cast(shared_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Cast:
    return await onboard_fast(shared_stack.gateway_url, tmp_path_factory.mktemp("files"), "files")


async def test_a_coach_sends_a_pdf_and_the_client_saves_it(cast: Cast, tmp_path: Path) -> None:
    pdf = tmp_path / "grounding-worksheet.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + os.urandom(300_000) + b"\n%%EOF\n")

    [sent] = await cast.coach.json("send", cast.conversation_id, "--file", str(pdf))
    assert sent["files"] == ["grounding-worksheet.pdf"]

    saved = tmp_path / "saved.pdf"
    [done] = await cast.client.json(
        "save-attachment", cast.conversation_id, sent["message_id"], str(saved)
    )
    assert done["saved"] == str(saved)
    assert saved.read_bytes() == pdf.read_bytes()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600

    # The client sees the file listed in the decrypted message, never its bytes in the clear.
    history = await cast.client.json("history", cast.conversation_id, "--limit", "5")
    [listed] = [m for m in history if m.get("message_id") == sent["message_id"]]
    assert "grounding-worksheet.pdf" in str(listed)


async def test_a_voice_note_carries_its_length_and_reads_as_one(cast: Cast, tmp_path: Path) -> None:
    note = tmp_path / "how-i-feel.opus"
    note.write_bytes(audiofiles.ogg_opus(41_250))
    [sent] = await cast.client.json("send", cast.conversation_id, "--file", str(note))

    # A browser's recording states no length: the sender gives it.
    recorded = tmp_path / "recorded.webm"
    recorded.write_bytes(audiofiles.webm(None))
    [later] = await cast.client.json(
        "send", cast.conversation_id, "--file", str(recorded), "--duration", "7.5"
    )
    pdf = tmp_path / "not-audio.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + bytes(2000))
    refused = await cast.client.arun(
        "send", cast.conversation_id, "--file", str(pdf), "--duration", "3"
    )
    assert refused.returncode == 2 and "--duration" in refused.stderr, refused.stderr

    history = await cast.coach.json("history", cast.conversation_id, "--limit", "10")
    found = {m["message_id"]: m for m in history if m.get("message_id")}
    [voice] = found[sent["message_id"]]["payload"]["attachments"]
    assert (voice["name"], voice["mime"], voice["duration_ms"]) == (
        "how-i-feel.opus",
        "audio/ogg",
        41_250,
    )
    [webm] = found[later["message_id"]]["payload"]["attachments"]
    assert (webm["mime"], webm["duration_ms"]) == ("audio/webm", 7_500)

    shown = await cast.coach.arun("history", cast.conversation_id, "--limit", "10")
    assert shown.returncode == 0, shown.stderr
    assert "[voice note 0:41] how-i-feel.opus" in shown.stdout, shown.stdout
    assert "[voice note 0:08] recorded.webm" in shown.stdout, shown.stdout

    saved = tmp_path / "heard.opus"
    await cast.coach.json("save-attachment", cast.conversation_id, sent["message_id"], str(saved))
    assert saved.read_bytes() == note.read_bytes()


async def test_the_readable_export_opens_the_files_offline(cast: Cast, tmp_path: Path) -> None:
    """Names the sender chose cannot leave the export's folder or overwrite each other; every
    file is linked from the readable page and opens again from the export alone."""
    originals = {
        "../../escape.txt": os.urandom(3000),
        "notes.txt": b"first notes\n",
        "NOTES.txt": b"second notes, same name to a case-blind disk\n",
        "breathing.wav": audiofiles.wav(1_200),
    }
    sources = []
    for n, data in enumerate(originals.values()):
        path = tmp_path / f"source-{n}"
        path.write_bytes(data)
        sources.append(path)
    coach = HavenClient(cast.coach.server, await Keystore.open(cast.coach.keystore, PASSPHRASE))
    try:
        refs = [
            dataclasses.replace(await upload_file(coach, cast.conversation_id, path), name=name)
            for path, name in zip(sources, originals, strict=True)
        ]
        payload = text_payload("for our next session") | {
            "attachments": [ref.to_payload() for ref in refs]
        }
        ids = [ref.attachment_id for ref in refs]
        receipt = await coach.send(cast.conversation_id, payload, attachment_ids=ids)
    finally:
        await coach.close()

    home = tmp_path / "home"
    home.mkdir()
    exported = home / "my-haven.json"
    [done] = await cast.client.json("export", str(exported), "--readable")
    assert done["readable_files"] == str(home / "my-haven.files")
    assert done["readable_html"] == str(home / "my-haven.readable.html")
    readable = json.loads((home / "my-haven.readable.json").read_text())
    [message] = [m for m in readable["messages"] if m["message_id"] == receipt.message_id]
    files = message["files"]
    assert [f["status"] for f in files] == ["ok"] * 4
    assert [f["path"] for f in files] == [
        "my-haven.files/escape.txt",
        "my-haven.files/notes.txt",
        "my-haven.files/NOTES (2).txt",
        "my-haven.files/breathing.wav",
    ]
    assert files[3]["duration_ms"] == 1_200
    for entry, data in zip(files, originals.values(), strict=True):
        opened = home / entry["path"]
        assert opened.read_bytes() == data
        assert stat.S_IMODE(opened.stat().st_mode) == 0o600
    assert not (tmp_path / "escape.txt").exists() and not (home / "escape.txt").exists()
    # The page links each file where it lies (relative, percent-encoded).
    page = (home / "my-haven.readable.html").read_text()
    links = re.findall(r'<a href="([^"]+)">', page)
    for entry in files:
        assert entry["path"] in {unquote(link) for link in links}, links
    assert str(exported) not in page  # nothing about this machine in the page

    # Offline: only the export and this device's keystore, no client, no server.
    store = await Keystore.open(cast.client.keystore, PASSPHRASE)
    try:
        document = json.loads(exported.read_text())
        again = open_export_files(document, decrypt_export(document, store), home / "again", store)
        remembered = set(store.state.decrypted_files)
    finally:
        store.close()
    [reopened] = [m for m in again["messages"] if m["message_id"] == receipt.message_id]
    for entry, data in zip(reopened["files"], originals.values(), strict=True):
        assert (home / entry["path"]).read_bytes() == data
        # The panic wipe shreds them with the keystore.
        assert str((home / entry["path"]).resolve()) in remembered
