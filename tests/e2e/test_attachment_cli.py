"""The attachment journey as people type it: a coach sends a PDF with `haven send --file`, the
client saves it with `haven save-attachment`, and it is the same file, readable only by them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.support.cli import Cast, onboard_fast
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
