"""Linking a new device: the short code both devices show, and the secret transfer
(docs/history.md, byte-exact).

The code is an iterated SHA-512 over both devices' identity keys and the account, like
the safety number, so a server that swaps the new device's keys changes the code the
user compares. The transfer is an authenticated ``crypto_box`` from the approving
device's kx key to the new device's: the new device knows which of its own devices sent
it, and checks the secret against the published backup key before keeping it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re

from haven_crypto.crypto import (
    KEY_BYTES,
    CryptoError,
    KxPrivateKey,
    b64d,
    b64e,
    box_unwrap,
    box_wrap,
    require_length,
)

__all__ = ["LinkError", "LinkSecret", "link_code", "open_link_secret", "seal_link_secret"]

_LINK_CONTEXT = b"haven-link-v1\x00"
_EXTRA_ROUNDS = 5199
_SERVER_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class LinkError(CryptoError):
    """A link transfer that must not be trusted (or a plaintext that is not the format)."""


def _text_field(name: str, value: str) -> bytes:
    """UTF-8 of a NUL-separated field; a NUL inside would let two inputs collide."""
    if not isinstance(value, str) or not value or "\x00" in value:
        raise CryptoError(f"{name} must be a non-empty string without NUL")
    return value.encode("utf-8")


def link_code(account_id: str, identity_key_a: bytes, identity_key_b: bytes) -> str:
    """Three groups of four digits, the same whichever device computes it."""
    keys = sorted(
        require_length("identity key", key, KEY_BYTES) for key in (identity_key_a, identity_key_b)
    )
    joined = keys[0] + keys[1]
    digest = hashlib.sha512(
        _LINK_CONTEXT + _text_field("account_id", account_id) + b"\x00" + joined
    )
    for _ in range(_EXTRA_ROUNDS):
        digest = hashlib.sha512(digest.digest() + joined)
    h = digest.digest()
    return " ".join(f"{int.from_bytes(h[i : i + 5], 'big') % 10_000:04d}" for i in (0, 5, 10))


@dataclasses.dataclass(frozen=True, kw_only=True)
class LinkSecret:
    """What the approving device hands over: the backup secret, or None without a backup."""

    backup_id: str | None
    backup_secret: bytes | None

    def __post_init__(self) -> None:
        if (self.backup_id is None) != (self.backup_secret is None):
            raise LinkError("backup_id and backup_secret are both set or both null")
        if self.backup_id is not None and _SERVER_ID.fullmatch(self.backup_id) is None:
            raise LinkError("backup_id is malformed")
        if self.backup_secret is not None and len(self.backup_secret) != KEY_BYTES:
            raise LinkError(f"backup_secret must be {KEY_BYTES} bytes")

    def plaintext(self) -> bytes:
        """Compact UTF-8 JSON in the fixed key order ``v``, ``backup_id``, ``backup_secret``."""
        secret = None if self.backup_secret is None else b64e(self.backup_secret)
        body = {"v": 1, "backup_id": self.backup_id, "backup_secret": secret}
        return json.dumps(body, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_plaintext(cls, plaintext: bytes) -> LinkSecret:
        """Strict: exact field set, ``v`` 1, canonical base64url of 32 bytes or null."""
        try:
            body = json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise LinkError("link secret is not UTF-8 JSON") from exc
        if not isinstance(body, dict) or set(body) != {"v", "backup_id", "backup_secret"}:
            raise LinkError("link secret has the wrong fields")
        if type(body["v"]) is not int or body["v"] != 1:
            raise LinkError("unknown link secret version")
        backup_id, secret = body["backup_id"], body["backup_secret"]
        if backup_id is not None and not isinstance(backup_id, str):
            raise LinkError("backup_id must be a string or null")
        if secret is None:
            return cls(backup_id=backup_id, backup_secret=None)
        if not isinstance(secret, str):
            raise LinkError("backup_secret must be a string or null")
        try:
            raw = b64d(secret)
        except ValueError as exc:
            raise LinkError("backup_secret is not canonical base64url") from exc
        return cls(backup_id=backup_id, backup_secret=raw)


def seal_link_secret(
    secret: LinkSecret,
    *,
    approver_kx: KxPrivateKey,
    new_device_kx_public: bytes,
    nonce: bytes | None = None,
) -> str:
    """The ``ciphertext`` of ``POST /v1/devices/{id}/link``: b64u(nonce || MAC || ct).
    ``nonce`` is for test vectors only."""
    return b64e(box_wrap(secret.plaintext(), approver_kx, new_device_kx_public, nonce))


def open_link_secret(
    ciphertext: str, *, own_kx: KxPrivateKey, approver_kx_public: bytes
) -> LinkSecret:
    """Open a transfer from the named approving device; anything else is ``LinkError``."""
    try:
        wrapped = b64d(ciphertext)
    except ValueError as exc:
        raise LinkError("link ciphertext is not canonical base64url") from exc
    try:
        plaintext = box_unwrap(wrapped, own_kx, approver_kx_public)
    except CryptoError as exc:
        raise LinkError("the link did not come from that device") from exc
    return LinkSecret.from_plaintext(plaintext)
