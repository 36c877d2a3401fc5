"""How a message's files read in the terminal: one line each, a voice note with its length."""

from __future__ import annotations

from typing import Any

from haven_client.export import clock
from haven_crypto.attachments import AttachmentError, refs_from_payload


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def file_lines(payload: dict[str, Any]) -> list[str]:
    """``[voice note 0:41] note.ogg`` or ``[file] worksheet.pdf (292.9 KB)`` per file; a
    malformed list reads as such rather than failing the whole message."""
    try:
        refs = refs_from_payload(payload)
    except AttachmentError:
        return ["[files that could not be read]"]
    return [
        f"[voice note {clock(ref.duration_ms)}] {ref.name}"
        if ref.duration_ms is not None
        else f"[file] {ref.name} ({human_size(ref.size)})"
        for ref in refs
    ]
