"""Keys, signatures and encodings of the Haven protocol: the one wrapper around PyNaCl.

Every libsodium call of the protocol goes through this module so that library
exceptions become ours (``CryptoError`` and its subclasses) at a single seam.
Byte layouts follow API.md, sections "Conventions" and "Keys". The haven-v1
message envelope lives in ``haven_crypto.envelope`` and builds on the primitives here.

Low-order X25519 keys are refused with libsodium's own blocklist (the same seven
u-coordinates its ``crypto_scalarmult`` rejects, compared with the high bit masked)
rather than with a trial scalar multiplication: the list is complete for
Curve25519 and its twist, needs no secret, and gives the same answer everywhere.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterable

import nacl.exceptions
import nacl.public
import nacl.signing
from nacl import bindings

SigningKey = nacl.signing.SigningKey
KxPrivateKey = nacl.public.PrivateKey

ALG = "haven-v1"
KEY_BYTES = 32
SIGNATURE_BYTES = 64
NONCE_BYTES = 24
TAG_BYTES = 16
WRAPPED_KEY_BYTES = NONCE_BYTES + TAG_BYTES + KEY_BYTES

_KX_CONTEXT = b"haven-kx-v1\x00"
_LOGIN_CONTEXT = b"haven-login-v1\x00"
_SN_CONTEXT = b"haven-sn-v1\x00"
_SN_EXTRA_ROUNDS = 5199
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_LOW_ORDER_X25519 = frozenset(
    bytes.fromhex(point)
    for point in (
        "00" * 32,  # 0
        "01" + "00" * 31,  # 1
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",  # order 8
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",  # order 8
        "ec" + "ff" * 30 + "7f",  # p - 1
        "ed" + "ff" * 30 + "7f",  # p, non-canonical 0
        "ee" + "ff" * 30 + "7f",  # p + 1, non-canonical 1
    )
)


class CryptoError(ValueError):
    """Base of every protocol-level crypto failure; library errors never leak past us."""


class BadSignatureError(CryptoError):
    """A signature does not verify under the claimed identity key."""


class EnvelopeError(CryptoError):
    """An envelope is malformed or fails a receiver-side check; ``field`` names the culprit."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.field = field


class LowOrderKeyError(CryptoError):
    """An X25519 public key is a small-order point, which would fix the shared secret."""


def b64e(data: bytes) -> str:
    """Encode as canonical base64url without padding, the only binary form on the wire."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    """Decode strictly: one accepted spelling per value, so signed bytes never have twins."""
    if not isinstance(text, str) or _B64URL.fullmatch(text) is None or len(text) % 4 == 1:
        raise ValueError("not canonical base64url without padding")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64e(data) != text:
        raise ValueError("not canonical base64url: unused trailing bits are set")
    return data


def random_bytes(size: int) -> bytes:
    """Fresh key or nonce material from the OS CSPRNG."""
    return secrets.token_bytes(size)


def require_length(name: str, value: bytes, size: int) -> bytes:
    """Refuse binary values of the wrong type or size before they reach libsodium."""
    if not isinstance(value, bytes) or len(value) != size:
        raise CryptoError(f"{name} must be {size} bytes")
    return value


def is_low_order_x25519(public: bytes) -> bool:
    """Tell whether ``public`` is on libsodium's small-order blocklist (high bit ignored)."""
    require_length("X25519 public key", public, KEY_BYTES)
    return public[:31] + bytes([public[31] & 0x7F]) in _LOW_ORDER_X25519


def check_x25519_public(public: bytes) -> bytes:
    """Return ``public`` if it is usable for key agreement, else raise (API.md: 422)."""
    if is_low_order_x25519(public):
        raise LowOrderKeyError("X25519 public key is a low-order point")
    return public


def sign_detached(identity: SigningKey, message: bytes) -> bytes:
    """Ed25519 detached signature; deterministic, so test vectors are reproducible."""
    return identity.sign(message).signature


def verify_detached(identity_public: bytes, message: bytes, signature: bytes) -> bool:
    """Verify under libsodium's ``crypto_sign_verify_detached`` rules; never raises."""
    if len(identity_public) != KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        nacl.signing.VerifyKey(identity_public).verify(message, signature)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        return False
    return True


def _text_field(name: str, value: str) -> bytes:
    """UTF-8 of a NUL-separated field; a NUL inside would make two inputs collide."""
    if not isinstance(value, str) or not value or "\x00" in value:
        raise CryptoError(f"{name} must be a non-empty string without NUL")
    return value.encode("utf-8")


def kx_signature_input(handle: str, kx_public: bytes) -> bytes:
    """Bytes an identity key signs to vouch for a kx key under a handle (API.md Keys)."""
    require_length("kx_public", kx_public, KEY_BYTES)
    return _KX_CONTEXT + _text_field("handle", handle.lower()) + b"\x00" + kx_public


def sign_kx(identity: SigningKey, handle: str, kx_public: bytes) -> bytes:
    """Produce a device's ``kx_signature``."""
    return sign_detached(identity, kx_signature_input(handle, kx_public))


def verify_kx_signature(
    identity_public: bytes, handle: str, kx_public: bytes, signature: bytes
) -> bool:
    """Check a ``kx_signature``; the handle binding stops a key being replayed elsewhere."""
    try:
        message = kx_signature_input(handle, kx_public)
    except CryptoError:
        return False
    return verify_detached(identity_public, message, signature)


def login_proof_input(handle: str, ts: int, identity_public: bytes, kx_public: bytes) -> bytes:
    """Bytes signed at login; ``ts`` is rendered as ASCII decimal of the JSON integer."""
    if isinstance(ts, bool) or not isinstance(ts, int):
        raise CryptoError("ts must be an integer")
    require_length("identity_public", identity_public, KEY_BYTES)
    require_length("kx_public", kx_public, KEY_BYTES)
    head = _LOGIN_CONTEXT + _text_field("handle", handle.lower())
    return head + b"\x00" + str(ts).encode("ascii") + b"\x00" + identity_public + kx_public


def sign_login_proof(identity: SigningKey, handle: str, ts: int, kx_public: bytes) -> bytes:
    """Produce the login ``proof`` that the device holds its identity key right now."""
    identity_public = bytes(identity.verify_key)
    return sign_detached(identity, login_proof_input(handle, ts, identity_public, kx_public))


def verify_login_proof(
    identity_public: bytes, handle: str, ts: int, kx_public: bytes, proof: bytes
) -> bool:
    """Check a login ``proof``; the caller still checks ``ts`` against its clock."""
    try:
        message = login_proof_input(handle, ts, identity_public, kx_public)
    except CryptoError:
        return False
    return verify_detached(identity_public, message, proof)


def aead_encrypt(payload: bytes, aad: bytes, nonce: bytes, key: bytes) -> bytes:
    """XChaCha20-Poly1305-IETF; returns ciphertext followed by the 16-byte tag."""
    require_length("nonce", nonce, NONCE_BYTES)
    require_length("content key", key, KEY_BYTES)
    return bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(payload, aad, nonce, key)


def aead_decrypt(ciphertext: bytes, aad: bytes, nonce: bytes, key: bytes) -> bytes:
    """Inverse of ``aead_encrypt``; all-or-nothing, never partial plaintext."""
    require_length("nonce", nonce, NONCE_BYTES)
    require_length("content key", key, KEY_BYTES)
    try:
        return bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, aad, nonce, key)
    except nacl.exceptions.CryptoError as exc:
        raise CryptoError("ciphertext does not authenticate") from exc


def _box(own_kx: KxPrivateKey, peer_kx_public: bytes) -> nacl.public.Box:
    """crypto_box between two kx keys, refusing low-order peers before libsodium sees them."""
    check_x25519_public(peer_kx_public)
    return nacl.public.Box(own_kx, nacl.public.PublicKey(peer_kx_public))


def box_wrap(
    secret: bytes, own_kx: KxPrivateKey, peer_kx_public: bytes, nonce: bytes | None = None
) -> bytes:
    """``crypto_box_easy`` laid out as nonce(24) || MAC(16) || ciphertext."""
    box_nonce = random_bytes(NONCE_BYTES) if nonce is None else nonce
    require_length("box nonce", box_nonce, NONCE_BYTES)
    return bytes(_box(own_kx, peer_kx_public).encrypt(secret, box_nonce))


def box_unwrap(wrapped: bytes, own_kx: KxPrivateKey, peer_kx_public: bytes) -> bytes:
    """Open a ``box_wrap`` output; raises ``CryptoError`` if it was not made for us."""
    box = _box(own_kx, peer_kx_public)
    try:
        return box.decrypt(wrapped)
    except (nacl.exceptions.CryptoError, ValueError) as exc:
        raise CryptoError("key box does not open") from exc


def _safety_half(account_id: str, identity_keys: Iterable[bytes]) -> str:
    """One account's 30 digits; iterated SHA-512 makes second preimages expensive."""
    keys = sorted(require_length("identity key", key, KEY_BYTES) for key in identity_keys)
    if not keys:
        raise CryptoError("a safety number needs at least one identity key per account")
    joined = b"".join(keys)
    digest = hashlib.sha512(_SN_CONTEXT + _text_field("account_id", account_id) + b"\x00" + joined)
    for _ in range(_SN_EXTRA_ROUNDS):
        digest = hashlib.sha512(digest.digest() + joined)
    h = digest.digest()
    return "".join(f"{int.from_bytes(h[i : i + 5], 'big') % 100_000:05d}" for i in range(0, 30, 5))


def safety_number(
    account_a: str,
    identity_keys_a: Iterable[bytes],
    account_b: str,
    identity_keys_b: Iterable[bytes],
) -> str:
    """60 digits both sides compute alike: the halves are ordered by account id bytes."""
    halves = sorted(
        [
            (account_a.encode("utf-8"), _safety_half(account_a, identity_keys_a)),
            (account_b.encode("utf-8"), _safety_half(account_b, identity_keys_b)),
        ]
    )
    return halves[0][1] + halves[1][1]
