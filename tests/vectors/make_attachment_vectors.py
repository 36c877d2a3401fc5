"""Deterministic attachment vectors (docs/attachments.md) for implementers in any language.

Run from the repository root: ``python -m tests.vectors.make_attachment_vectors``; it rewrites
``tests/vectors/attachments.json``. Keys, headers and plaintexts derive from fixed labels
(``SHA-256(label)``); secretstream is deterministic once its header is fixed, so the output is
byte-stable. ``tests/unit/test_attachment_crypto.py`` checks the file against this script and
opens every blob.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from haven_crypto.attachments import (
    CHUNK_PLAIN,
    AttachmentRef,
    blob_length,
    encrypt_bytes,
    padded_length,
    sha256,
)

OUTPUT = Path(__file__).with_name("attachments.json")
PADME_SIZES = (0, 1, 1000, 1024, 1025, 5000, 65536, 100_000, 1_000_000, 20 * 1024 * 1024)
FILES = (
    ("empty", 0, "text/plain", "empty.txt", None),
    ("small", 37, "text/plain", "note.txt", None),
    ("two-chunks", CHUNK_PLAIN + 1000, "application/pdf", "worksheet.pdf", None),
    ("voice", 3 * CHUNK_PLAIN, "audio/webm;codecs=opus", "voice-note.webm", 41250),
)


def _fixed(label: str) -> bytes:
    return hashlib.sha256(f"haven attachment test vector: {label}".encode()).digest()


def _plaintext(label: str, size: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += _fixed(f"{label} plaintext {counter}")
        counter += 1
    return bytes(out[:size])


def _file(name: str, size: int, mime: str, filename: str, duration: int | None) -> dict[str, Any]:
    key = _fixed(f"{name} key")
    header = _fixed(f"{name} header")[:24]
    plaintext = _plaintext(name, size)
    blob = encrypt_bytes(plaintext, key, header=header)
    ref = AttachmentRef(
        attachment_id=f"att_{name}",
        key=key,
        sha256=sha256(blob),
        mime=mime,
        name=filename,
        size=size,
        duration_ms=duration,
    )
    return {
        "name": name,
        "key_hex": key.hex(),
        "header_hex": header.hex(),
        "plaintext_hex": plaintext.hex() if size <= 4096 else None,
        "plaintext_sha256_hex": hashlib.sha256(plaintext).hexdigest(),
        "padded_length": padded_length(size),
        "blob_length": len(blob),
        "blob_sha256_hex": hashlib.sha256(blob).hexdigest(),
        "blob_hex": blob.hex() if len(blob) <= 4096 else None,
        "payload_entry": ref.to_payload(),
    }


def build_vectors() -> dict[str, Any]:
    """Every vector as one JSON-ready object."""
    return {
        "format": "haven attachment v1",
        "about": (
            "Padding: Padme(max(size, 1024)) with zero bytes. Blob: secretstream header (24) "
            "then crypto_secretstream_xchacha20poly1305 chunks of 65536 plaintext bytes (the "
            "last shorter, tagged FINAL, the others MESSAGE, no additional data). blob_hex is "
            "given for small blobs; for the others compare blob_sha256_hex. payload_entry is "
            "the object inside the message payload's 'attachments' list. Large plaintexts are "
            "given by rule: the concatenation over i = 0, 1, ... of SHA-256('haven attachment "
            "test vector: <name> plaintext <i>') cut to size; key and header are SHA-256("
            "'haven attachment test vector: <name> key' / '... header') (header: first 24 bytes)."
        ),
        "padme": [
            {"size": size, "padded_length": padded_length(size), "blob_length": blob_length(size)}
            for size in PADME_SIZES
        ],
        "files": [_file(*spec) for spec in FILES],
    }


def render() -> str:
    """The exact file contents, so the test can compare them to the committed artifact."""
    return json.dumps(build_vectors(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Rewrite the committed vector file."""
    OUTPUT.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
