"""The message ids a keystore accepted, per conversation: 16-byte digests kept for good."""

from __future__ import annotations

import hashlib

from haven_crypto.crypto import b64e

_ID_BYTES = 16


class IdSet:
    """A set of 16-byte digests that also keeps them in arrival order, ready to store."""

    def __init__(self, raw: bytes = b"") -> None:
        self._raw = bytearray(raw)
        self._members = {raw[i : i + _ID_BYTES] for i in range(0, len(raw), _ID_BYTES)}
        self.dirty = False

    def __contains__(self, digest: bytes) -> bool:
        return digest in self._members

    def add(self, digest: bytes) -> None:
        if digest not in self._members:
            self._members.add(digest)
            self._raw += digest
            self.dirty = True

    def dump(self) -> str:
        self.dirty = False
        return b64e(bytes(self._raw))


def id_digest(message_id: str) -> bytes:
    """16 bytes, like a UUID; hashing also covers an id that is not one, never confusing two
    ids with each other in practice (a 128-bit digest) and never missing a repeat."""
    return hashlib.blake2b(message_id.encode("utf-8"), digest_size=_ID_BYTES).digest()
