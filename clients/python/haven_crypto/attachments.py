"""Encrypted attachments: Padmé padding, secretstream blobs and the payload reference.

The byte-exact format is in docs/attachments.md; vectors in tests/vectors/attachments.json.
A file is padded with zero bytes to its Padmé length, split into 64 KiB plaintext chunks and
sealed with libsodium's crypto_secretstream_xchacha20poly1305 under a fresh 32-byte key; the
blob the server stores is ``header(24) ‖ chunk_1 ‖ … ‖ chunk_n``, the last chunk tagged FINAL.
The key, the blob's SHA-256, the true size, MIME type and name travel inside the message's
haven-v1 ciphertext (``AttachmentRef``). Any mismatch on the way back is a hard failure.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
from nacl import bindings

from haven_crypto.crypto import CryptoError, b64d, b64e, random_bytes

KEY_BYTES = 32
HEADER_BYTES = bindings.crypto_secretstream_xchacha20poly1305_HEADERBYTES  # 24
ABYTES = bindings.crypto_secretstream_xchacha20poly1305_ABYTES  # 17
CHUNK_PLAIN = 64 * 1024
CHUNK_CIPHER = CHUNK_PLAIN + ABYTES
MIN_PADDED = 1024
MAX_ATTACHMENTS = 10
MAX_COUNT = (1 << 53) - 1  # JSON's (and JavaScript's) largest exact integer
_TAG_MESSAGE = bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL


class AttachmentError(CryptoError):
    """A blob or reference that fails a check: tampered, truncated, wrong hash or size."""


def padme(length: int) -> int:
    """Padmé (Nikitin et al. 2019): round up so the mantissa is no longer than the exponent."""
    if length < 2:
        return length
    exponent = length.bit_length() - 1
    mantissa_bits = exponent.bit_length()
    mask = (1 << (exponent - mantissa_bits)) - 1
    return (length + mask) & ~mask


def padded_length(size: int) -> int:
    """The plaintext length after padding: Padmé of the size, at least ``MIN_PADDED``."""
    if size < 0:
        raise AttachmentError("negative size")
    return padme(max(size, MIN_PADDED))


def blob_length(size: int) -> int:
    """The exact stored size of a file of ``size`` bytes (header, padded chunks, their tags)."""
    padded = padded_length(size)
    chunks = -(-padded // CHUNK_PLAIN)
    return HEADER_BYTES + padded + chunks * ABYTES


def new_key() -> bytes:
    """A fresh per-file key; never reused for another file."""
    return random_bytes(KEY_BYTES)


def _state(key: bytes, header: bytes | None) -> tuple[Any, bytes]:
    if len(key) != KEY_BYTES:
        raise AttachmentError("an attachment key is 32 bytes")
    state = bindings.crypto_secretstream_xchacha20poly1305_state()
    if header is None:
        return state, bindings.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    # init_pull derives exactly the state init_push derives from that header: used by the
    # vector generator, whose header must be fixed rather than drawn by libsodium.
    if len(header) != HEADER_BYTES:
        raise AttachmentError("a secretstream header is 24 bytes")
    bindings.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
    return state, header


def _rechunk(source: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The padded plaintext in exact 64 KiB pieces (the last one shorter), checking the size."""
    padded = padded_length(size)
    buffer = bytearray()
    seen = 0
    for piece in source:
        seen += len(piece)
        if seen > size:
            raise AttachmentError("the file is longer than its declared size")
        buffer += piece
        while len(buffer) >= CHUNK_PLAIN:
            yield bytes(buffer[:CHUNK_PLAIN])
            del buffer[:CHUNK_PLAIN]
    if seen != size:
        raise AttachmentError("the file is shorter than its declared size")
    remaining = padded - size
    while remaining:
        take = min(remaining, CHUNK_PLAIN - len(buffer))
        buffer += bytes(take)
        remaining -= take
        if len(buffer) == CHUNK_PLAIN and remaining:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


def encrypt_stream(
    source: Iterable[bytes], size: int, key: bytes, *, header: bytes | None = None
) -> Iterator[bytes]:
    """Yield the blob piece by piece: the header, then one sealed chunk per 64 KiB."""
    state, head = _state(key, header)
    yield head
    pieces = _rechunk(source, size)
    current = next(pieces)
    for following in pieces:
        yield bindings.crypto_secretstream_xchacha20poly1305_push(
            state, current, None, _TAG_MESSAGE
        )
        current = following
    yield bindings.crypto_secretstream_xchacha20poly1305_push(state, current, None, _TAG_FINAL)


def encrypt_bytes(plaintext: bytes, key: bytes, *, header: bytes | None = None) -> bytes:
    """The whole blob of a file held in memory."""
    return b"".join(encrypt_stream([plaintext], len(plaintext), key, header=header))


class BlobDecryptor:
    """Checks and opens a blob fed in arbitrary pieces; ``finish`` must be called and must pass."""

    def __init__(self, ref: AttachmentRef) -> None:
        self._ref = ref
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._state: Any = None
        self._done = False
        self._written = 0
        self._expected = blob_length(ref.size)
        self._received = 0

    def feed(self, data: bytes) -> bytes:
        """Plaintext released by these bytes (padding trimmed), or an AttachmentError."""
        self._received += len(data)
        if self._received > self._expected:
            raise AttachmentError("the blob is longer than its size allows")
        self._hash.update(data)
        self._buffer += data
        out = bytearray()
        if self._state is None and len(self._buffer) >= HEADER_BYTES:
            self._state = bindings.crypto_secretstream_xchacha20poly1305_state()
            bindings.crypto_secretstream_xchacha20poly1305_init_pull(
                self._state, bytes(self._buffer[:HEADER_BYTES]), self._ref.key
            )
            del self._buffer[:HEADER_BYTES]
        # Keep a full chunk back until more arrives: the last one is the FINAL one.
        while self._state is not None and len(self._buffer) > CHUNK_CIPHER:
            out += self._open(bytes(self._buffer[:CHUNK_CIPHER]), final=False)
            del self._buffer[:CHUNK_CIPHER]
        return bytes(out)

    def finish(self) -> bytes:
        """The last plaintext; raises unless the blob was whole, untampered and hashed right."""
        if self._received != self._expected or self._state is None or not self._buffer:
            raise AttachmentError("the blob is truncated")
        if not hmac.compare_digest(self._hash.digest(), self._ref.sha256):
            raise AttachmentError("the blob's SHA-256 does not match the message")
        tail = self._open(bytes(self._buffer), final=True)
        self._buffer.clear()
        if not self._done or self._written != self._ref.size:
            raise AttachmentError("the blob ended early")
        return tail

    def _open(self, chunk: bytes, *, final: bool) -> bytes:
        if self._done:
            raise AttachmentError("data after the final chunk")
        try:
            plain, tag = bindings.crypto_secretstream_xchacha20poly1305_pull(
                self._state, chunk, None
            )
        except nacl.exceptions.CryptoError as error:
            raise AttachmentError("a chunk of the blob does not authenticate") from error
        if (tag == _TAG_FINAL) != final:
            raise AttachmentError("the blob's final chunk is misplaced")
        self._done = final
        keep = max(0, min(len(plain), self._ref.size - self._written))
        if any(plain[keep:]):
            raise AttachmentError("the padding is not zero")
        self._written += keep
        return plain[:keep]


def decrypt_bytes(blob: bytes, ref: AttachmentRef) -> bytes:
    """Open a whole blob in memory with the checks of ``BlobDecryptor``."""
    opener = BlobDecryptor(ref)
    return opener.feed(blob) + opener.finish()


def sha256(data: bytes) -> bytes:
    """SHA-256 as the reference carries it (raw 32 bytes)."""
    return hashlib.sha256(data).digest()


@dataclass(frozen=True)
class AttachmentRef:
    """One file as the encrypted payload lists it (docs/attachments.md, "Payload")."""

    attachment_id: str
    key: bytes
    sha256: bytes
    mime: str
    name: str
    size: int
    duration_ms: int | None = None

    def to_payload(self) -> dict[str, Any]:
        """The JSON object inside the message payload's ``attachments`` list."""
        entry: dict[str, Any] = {
            "attachment_id": self.attachment_id,
            "key": b64e(self.key),
            "sha256": b64e(self.sha256),
            "mime": self.mime,
            "name": self.name,
            "size": self.size,
        }
        if self.duration_ms is not None:
            entry["duration_ms"] = self.duration_ms
        return entry

    @classmethod
    def from_payload(cls, entry: object) -> AttachmentRef:
        """Parse and check one entry; anything malformed is an AttachmentError."""
        if not isinstance(entry, dict):
            raise AttachmentError("an attachment entry is an object")
        try:
            ref = cls(
                attachment_id=_text(entry, "attachment_id"),
                key=b64d(_text(entry, "key")),
                sha256=b64d(_text(entry, "sha256")),
                mime=_text(entry, "mime"),
                name=_text(entry, "name"),
                size=_count(entry, "size"),
                duration_ms=_count(entry, "duration_ms") if "duration_ms" in entry else None,
            )
        except CryptoError as error:
            raise AttachmentError(f"bad attachment entry: {error}") from error
        if len(ref.key) != KEY_BYTES or len(ref.sha256) != 32:
            raise AttachmentError("bad attachment key or hash length")
        return ref


def _text(entry: dict[str, Any], name: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str):
        raise AttachmentError(f"attachment field {name} must be a string")
    return value


def _count(entry: dict[str, Any], name: str) -> int:
    value = entry.get(name)
    # A counterpart chose it: past JSON's exact integers it is no size or length (and would
    # overflow the float arithmetic that shows it).
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
        raise AttachmentError(f"attachment field {name} must be an integer from 0 to 2^53 - 1")
    return value


def refs_from_payload(payload: dict[str, Any]) -> list[AttachmentRef]:
    """The files a decrypted payload lists (none when it has no ``attachments``)."""
    entries = payload.get("attachments", [])
    if not isinstance(entries, list) or len(entries) > MAX_ATTACHMENTS:
        raise AttachmentError("attachments must be a list of at most 10 entries")
    return [AttachmentRef.from_payload(entry) for entry in entries]
