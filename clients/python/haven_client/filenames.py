"""Safe local names for files whose names a sender chose (attachments): never a path.

A name comes from inside the message, so it is whatever the sender typed or forged:
``../../.bashrc``, ``C:\\evil``, ``report.pdf\\x00.exe``, ``CON``, a thousand characters, or
nothing. ``safe_name`` keeps its last component, drops control and path characters, leading
dots and trailing dots/spaces, shortens it (keeping the extension), renames names Windows
reserves, and falls back to ``file``. ``NameBook`` hands out distinct names in one folder
(case-insensitively, as many file systems compare): ``notes.txt``, ``notes (2).txt``, …
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

MAX_BYTES = 120  # well under every file system's 255-byte limit, room for " (n)"
FALLBACK = "file"
_UNSAFE = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')
_RESERVED = re.compile(r"(?i)^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$")


def safe_name(name: object) -> str:
    """A single, harmless file name for ``name`` (never empty, never a path)."""
    text = unicodedata.normalize("NFC", name if isinstance(name, str) else "")
    text = re.split(r"[/\\]", text)[-1]  # the last component, whichever separator was used
    text = "".join(
        "_" if _UNSAFE.match(ch) or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch
        for ch in text
    )
    text = text.strip().lstrip(".").rstrip(". ")
    if _RESERVED.match(text):
        text = "_" + text
    text = _shorten(text)
    return text or FALLBACK


def _shorten(text: str) -> str:
    if len(text.encode("utf-8")) <= MAX_BYTES:
        return text
    stem, dot, extension = text.rpartition(".")
    if not dot or not stem or len(extension.encode("utf-8")) > 16:
        stem, extension = text, ""
    budget = MAX_BYTES - len(extension.encode("utf-8")) - (1 if extension else 0)
    kept = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore").rstrip(". ")
    return f"{kept}.{extension}" if extension else kept


class NameBook:
    """Distinct safe names inside one folder; names already there count as taken."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._taken = (
            {entry.name.casefold() for entry in folder.iterdir()} if folder.is_dir() else set()
        )

    def claim(self, name: object) -> Path:
        """A path in the folder for this sender-chosen name, unused so far."""
        base = safe_name(name)
        stem, dot, extension = base.rpartition(".")
        if not dot or not stem:
            stem, extension = base, ""
        candidate, number = base, 1
        while candidate.casefold() in self._taken:
            number += 1
            candidate = f"{stem} ({number}).{extension}" if extension else f"{stem} ({number})"
        self._taken.add(candidate.casefold())
        path = self._folder / candidate
        if path.resolve().parent != self._folder.resolve():  # belt and braces: never outside
            raise ValueError(f"unsafe file name {name!r}")
        return path
