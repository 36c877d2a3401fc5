"""Push secrets at rest: sealed with a key the database does not hold.

XChaCha20-Poly1305 (haven_crypto.crypto) under a 32-byte key read from `HAVEN_PUSH_SECRET_KEY_FILE`
(base64; a compose secret), bound to the device it belongs to, so a sealed secret copied onto
another device's subscription does not open. `python -m services.notification.push.sealing
generate > secrets/push_secret_key` prints a new key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import sys
from pathlib import Path

import structlog

from haven_crypto.crypto import CryptoError, aead_decrypt, aead_encrypt, random_bytes
from shared.errors import HavenError

log = structlog.get_logger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 24
_AAD = b"haven-push-secret-v1\x00"


class UnreadableSecretError(HavenError):
    """A stored secret does not open under this key (another key, or an ephemeral one lost)."""


def read_key_file(path: Path) -> bytes:
    """The key in `path`: base64 of exactly 32 bytes. ValueError naming the problem, never
    the content."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeError):
        raise ValueError("cannot be read as a text file") from None
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must hold base64 of 32 random bytes") from None
    if len(key) != KEY_BYTES:
        raise ValueError("must hold base64 of 32 random bytes")
    return key


def generate_key_text() -> str:
    return base64.b64encode(random_bytes(KEY_BYTES)).decode("ascii")


class SecretSealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("a push secret key is 32 bytes")
        self._key = key
        # Stored beside each sealed secret: a later key rotation knows which key sealed it.
        self.key_id = hashlib.blake2b(key, digest_size=8, person=b"haven-push-kid").hexdigest()

    @classmethod
    def from_file(cls, path: Path | None) -> SecretSealer:
        if path is None:
            log.warning(
                "ephemeral_push_secret_key",
                hint="set HAVEN_PUSH_SECRET_KEY_FILE: push secrets will not open after a "
                "restart or on another replica",
            )
            return cls(random_bytes(KEY_BYTES))
        return cls(read_key_file(path))

    def seal(self, secret: str, device_id: str) -> bytes:
        nonce = random_bytes(NONCE_BYTES)
        return nonce + aead_encrypt(secret.encode(), self._aad(device_id), nonce, self._key)

    def open(self, sealed: bytes, device_id: str, key_id: str | None = None) -> str:
        if key_id is not None and key_id != self.key_id:
            raise UnreadableSecretError("sealed under another key")
        nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        try:
            return aead_decrypt(ciphertext, self._aad(device_id), nonce, self._key).decode()
        except (CryptoError, UnicodeError) as error:
            raise UnreadableSecretError("the sealed secret does not open") from error

    @staticmethod
    def _aad(device_id: str) -> bytes:
        return _AAD + device_id.encode()


def main(argv: list[str]) -> int:
    if argv[1:] != ["generate"]:
        sys.stderr.write(
            "usage: python -m services.notification.push.sealing generate > push_secret_key\n"
        )
        return 2
    sys.stdout.write(generate_key_text() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
