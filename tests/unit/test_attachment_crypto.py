"""Attachment blobs open only when whole and untouched; the committed vectors reproduce."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest

from haven_crypto.attachments import (
    CHUNK_CIPHER,
    HEADER_BYTES,
    AttachmentError,
    AttachmentRef,
    BlobDecryptor,
    blob_length,
    decrypt_bytes,
    encrypt_bytes,
    encrypt_stream,
    new_key,
    padded_length,
    refs_from_payload,
    sha256,
)
from tests.vectors import make_attachment_vectors

VECTORS = Path(__file__).parents[1] / "vectors" / "attachments.json"


def _padme_from_paper(length: int) -> int:
    """Padmé as the paper writes it, with logarithms, to check the bit-twiddling version."""
    exponent = math.floor(math.log2(length))
    mantissa_bits = math.floor(math.log2(exponent)) + 1
    last_bits = exponent - mantissa_bits
    mask = (1 << last_bits) - 1
    return (length + mask) & ~mask


def _ref(blob: bytes, key: bytes, size: int) -> AttachmentRef:
    return AttachmentRef("att_x", key, sha256(blob), "application/pdf", "a.pdf", size)


def test_committed_vectors_match_the_generator() -> None:
    assert VECTORS.read_text(encoding="utf-8") == make_attachment_vectors.render()


@pytest.mark.parametrize("size", [1024, 1025, 4097, 65537, 99_999, 1_000_001, 25 * 2**20 - 3])
def test_padding_is_padme(size: int) -> None:
    assert padded_length(size) == _padme_from_paper(size)
    assert padded_length(size) >= size
    assert padded_length(size) - size <= size * 0.12


def test_vector_files_open_to_their_plaintext() -> None:
    data = json.loads(VECTORS.read_text(encoding="utf-8"))
    for entry in data["files"]:
        ref = AttachmentRef.from_payload(entry["payload_entry"])
        key = bytes.fromhex(entry["key_hex"])
        assert ref.key == key
        blob = encrypt_bytes(
            make_attachment_vectors._plaintext(entry["name"], ref.size),
            key,
            header=bytes.fromhex(entry["header_hex"]),
        )
        assert hashlib.sha256(blob).hexdigest() == entry["blob_sha256_hex"] == ref.sha256.hex()
        assert len(blob) == entry["blob_length"] == blob_length(ref.size)
        plain = decrypt_bytes(blob, ref)
        assert hashlib.sha256(plain).hexdigest() == entry["plaintext_sha256_hex"]
        if entry["blob_hex"] is not None:
            assert blob.hex() == entry["blob_hex"]


def test_round_trip_in_odd_pieces() -> None:
    key = new_key()
    plain = bytes(range(256)) * 900
    blob = b"".join(
        encrypt_stream((plain[i : i + 7001] for i in range(0, len(plain), 7001)), len(plain), key)
    )
    assert len(blob) == blob_length(len(plain))
    assert plain not in blob
    opener = BlobDecryptor(_ref(blob, key, len(plain)))
    out = b"".join(opener.feed(blob[i : i + 1234]) for i in range(0, len(blob), 1234))
    assert out + opener.finish() == plain


def _big() -> tuple[bytes, bytes, int]:
    key = new_key()
    plain = b"worksheet " * 20_000
    return encrypt_bytes(plain, key), key, len(plain)


def test_a_tampered_chunk_fails() -> None:
    blob, key, size = _big()
    bad = bytearray(blob)
    bad[HEADER_BYTES + 10] ^= 1
    # The hash is recomputed so that only the chunk's own tag can catch it.
    with pytest.raises(AttachmentError, match="authenticate"):
        decrypt_bytes(bytes(bad), _ref(bytes(bad), key, size))


def test_truncation_fails_even_at_a_chunk_boundary() -> None:
    blob, key, size = _big()
    cut = blob[: HEADER_BYTES + CHUNK_CIPHER]
    with pytest.raises(AttachmentError):
        decrypt_bytes(cut, _ref(cut, key, size))
    with pytest.raises(AttachmentError, match="final"):
        decrypt_bytes(cut, _ref(cut, key, CHUNK_CIPHER - 17 - 100))


def test_reordered_chunks_fail() -> None:
    blob, key, size = _big()
    body = blob[HEADER_BYTES:]
    swapped = (
        blob[:HEADER_BYTES]
        + body[CHUNK_CIPHER : 2 * CHUNK_CIPHER]
        + body[:CHUNK_CIPHER]
        + body[2 * CHUNK_CIPHER :]
    )
    with pytest.raises(AttachmentError, match="authenticate"):
        decrypt_bytes(swapped, _ref(swapped, key, size))


def test_a_wrong_hash_fails() -> None:
    blob, key, size = _big()
    ref = AttachmentRef("att_x", key, hashlib.sha256(b"other").digest(), "x/y", "n", size)
    with pytest.raises(AttachmentError, match="SHA-256"):
        decrypt_bytes(blob, ref)


def test_a_wrong_key_or_size_fails() -> None:
    blob, key, size = _big()
    with pytest.raises(AttachmentError):
        decrypt_bytes(blob, _ref(blob, new_key(), size))
    with pytest.raises(AttachmentError):
        decrypt_bytes(blob, _ref(blob, key, size + 5000))
    with pytest.raises(AttachmentError, match="padding"):
        decrypt_bytes(blob, _ref(blob, key, size - 10))


def test_a_file_that_lies_about_its_size_is_refused() -> None:
    with pytest.raises(AttachmentError):
        b"".join(encrypt_stream([b"abc"], 2, new_key()))
    with pytest.raises(AttachmentError):
        b"".join(encrypt_stream([b"abc"], 4, new_key()))


def test_payload_entries_are_checked() -> None:
    ref = AttachmentRef("att_1", new_key(), sha256(b"x"), "audio/ogg", "v.ogg", 9, duration_ms=1500)
    assert refs_from_payload({"attachments": [ref.to_payload()]}) == [ref]
    assert refs_from_payload({"type": "text"}) == []
    broken = ref.to_payload() | {"key": "AAAA"}
    with pytest.raises(AttachmentError):
        refs_from_payload({"attachments": [broken]})
    with pytest.raises(AttachmentError):
        refs_from_payload({"attachments": [ref.to_payload()] * 11})
    with pytest.raises(AttachmentError):
        AttachmentRef.from_payload(ref.to_payload() | {"size": True})
