"""The recovery key and the backup key pair it derives (docs/history.md, byte-exact).

A recovery key (RK) is 32 random bytes shown once as Bitcoin-alphabet base58 of
``0x48 0x01 || rk || parity`` (parity = XOR of the 34 bytes before it), in groups of
four characters. The backup key pair is ``crypto_box_seed_keypair(HKDF-SHA256(rk))``;
its public half is published signed by the account's device identity keys, and
senders wrap content keys for it like for any device. The server only ever holds the
public half, so it can open nothing.

Every parse failure is one calm ``RecoveryKeyError`` whose text can be shown as is.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import reduce

import nacl.public

from haven_crypto.crypto import (
    KEY_BYTES,
    CryptoError,
    KxPrivateKey,
    SigningKey,
    random_bytes,
    require_length,
    sign_detached,
    verify_detached,
)

__all__ = [
    "BASE58_ALPHABET",
    "RECOVERY_KEY_PREFIX",
    "RecoveryKeyError",
    "backup_keypair",
    "backup_seed",
    "backup_signature_input",
    "base58_decode",
    "base58_encode",
    "encode_recovery_key",
    "generate_recovery_key",
    "hkdf_sha256",
    "parse_recovery_key",
    "recovery_key_raw",
    "sign_backup_key",
    "verify_backup_signature",
]

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
RECOVERY_KEY_PREFIX = b"\x48\x01"
RAW_BYTES = len(RECOVERY_KEY_PREFIX) + KEY_BYTES + 1
BACKUP_INFO = b"haven/backup/v1"
_BACKUP_SIG_CONTEXT = b"haven-backup-v1\x00"
_GROUP = 4
_INDEX = {char: value for value, char in enumerate(BASE58_ALPHABET)}
CALM_TYPO = "That recovery key doesn't look right. Check it for a typo and try again."


class RecoveryKeyError(CryptoError):
    """A recovery key that cannot be read; the message is calm enough to show a person."""

    def __init__(self, detail: str) -> None:
        super().__init__(CALM_TYPO)
        self.detail = detail


def _text_field(name: str, value: str) -> bytes:
    """UTF-8 of a NUL-separated field; a NUL inside would let two inputs collide."""
    if not isinstance(value, str) or not value or "\x00" in value:
        raise CryptoError(f"{name} must be a non-empty string without NUL")
    return value.encode("utf-8")


def base58_encode(data: bytes) -> str:
    """Standard base58 (Bitcoin alphabet): big-endian digits, each leading zero byte → '1'."""
    zeros = len(data) - len(data.lstrip(b"\x00"))
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(BASE58_ALPHABET[digit])
    return "1" * zeros + "".join(reversed(digits))


def base58_decode(text: str) -> bytes:
    """Inverse of ``base58_encode``; a character outside the alphabet is a ``ValueError``."""
    number = 0
    for char in text:
        value = _INDEX.get(char)
        if value is None:
            raise ValueError(f"{char!r} is not a base58 character")
        number = number * 58 + value
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * zeros + body


def _parity(data: bytes) -> int:
    return reduce(lambda acc, byte: acc ^ byte, data, 0)


def generate_recovery_key() -> bytes:
    """256 bits from the OS CSPRNG: the whole secret behind an account's history."""
    return random_bytes(KEY_BYTES)


def recovery_key_raw(rk: bytes) -> bytes:
    """The 35 bytes the text form encodes: prefix, key, parity."""
    head = RECOVERY_KEY_PREFIX + require_length("recovery key", rk, KEY_BYTES)
    return head + bytes([_parity(head)])


def encode_recovery_key(rk: bytes) -> str:
    """The form a person writes down: base58 in groups of four, single spaces between."""
    text = base58_encode(recovery_key_raw(rk))
    return " ".join(text[i : i + _GROUP] for i in range(0, len(text), _GROUP))


def parse_recovery_key(text: str) -> bytes:
    """The 32-byte key from its text form (whitespace ignored), else ``RecoveryKeyError``."""
    if not isinstance(text, str):
        raise RecoveryKeyError("not text")
    compact = "".join(text.split())
    if not compact:
        raise RecoveryKeyError("empty")
    try:
        raw = base58_decode(compact)
    except ValueError as exc:
        raise RecoveryKeyError(str(exc)) from exc
    if len(raw) != RAW_BYTES:
        raise RecoveryKeyError(f"decodes to {len(raw)} bytes, not {RAW_BYTES}")
    if raw[:2] != RECOVERY_KEY_PREFIX:
        raise RecoveryKeyError("wrong prefix")
    if _parity(raw[:-1]) != raw[-1]:
        raise RecoveryKeyError("parity does not match")
    return raw[2:-1]


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 extract-then-expand with HMAC-SHA256 (stdlib only, checked against RFC
    vectors in the tests)."""
    if not 0 < length <= 255 * 32:
        raise CryptoError("HKDF length out of range")
    prk = hmac.new(salt or b"\x00" * 32, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def backup_seed(rk: bytes) -> bytes:
    """``HKDF-SHA256(IKM=rk, salt=32 zero bytes, info="haven/backup/v1", L=32)``."""
    require_length("recovery key", rk, KEY_BYTES)
    return hkdf_sha256(rk, salt=b"\x00" * 32, info=BACKUP_INFO, length=KEY_BYTES)


def backup_keypair(rk: bytes) -> KxPrivateKey:
    """``crypto_box_seed_keypair(backup_seed(rk))``: its ``public_key`` is the published
    ``kx_key``, the private key opens every wrap made for the backup recipient."""
    return nacl.public.PrivateKey.from_seed(backup_seed(rk))


def backup_signature_input(handle: str, kx_key: bytes) -> bytes:
    """``b"haven-backup-v1\\x00" + handle.lower() + b"\\x00" + kx_key``."""
    require_length("backup kx_key", kx_key, KEY_BYTES)
    return _BACKUP_SIG_CONTEXT + _text_field("handle", handle.lower()) + b"\x00" + kx_key


def sign_backup_key(identity: SigningKey, handle: str, kx_key: bytes) -> bytes:
    """A device's vouching for the account's backup key (one entry of ``signatures``)."""
    return sign_detached(identity, backup_signature_input(handle, kx_key))


def verify_backup_signature(
    identity_public: bytes, handle: str, kx_key: bytes, signature: bytes
) -> bool:
    """Never raises: a malformed input is simply a signature that does not verify."""
    try:
        message = backup_signature_input(handle, kx_key)
    except CryptoError:
        return False
    return verify_detached(identity_public, message, signature)
