"""The haven-v1 message envelope: ``seal`` for senders, ``verify_envelope`` for the
gateway, ``open_envelope`` for receivers (API.md, "Envelope haven-v1 — byte-exact").

Commitment on the wire (an addition to API.md). ``sig_input`` covers ``commitment``,
which only a holder of the content key can compute, yet the gateway must verify the
signature before accepting a message. So the envelope carries one more field,
``"commitment"`` (32 bytes, canonical base64url), and ``sig_input`` uses it as sent.
Receivers never take it on trust: after opening their own key box they recompute
``BLAKE2b-256(b"haven-v1-commit\\x00" + nonce, key=content_key)`` and require it to
equal the signed field (constant time) before decrypting. A sender who wraps
different content keys for different devices (the "invisible salamander" attack on
a non-committing AEAD) is therefore caught by every device whose key does not match
the one signed commitment. The layouts of aad, keys_block and sig_input are unchanged;
the alternatives (dropping the commitment from sig_input, or a gateway that cannot
check signatures) would each change more of the written contract. The field reveals
nothing: it is a keyed PRF output under a random single-use key.

Caller duties this module cannot see: the sender's and recipients' kx keys must have
passed ``verify_kx_signature`` under their account's handle, ``conversation_id`` comes
from the receiver's own records, and ``sender_device_id`` must belong to a participant.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from haven_crypto.crypto import (
    ALG,
    KEY_BYTES,
    NONCE_BYTES,
    SIGNATURE_BYTES,
    TAG_BYTES,
    WRAPPED_KEY_BYTES,
    BadSignatureError,
    CryptoError,
    EnvelopeError,
    KxPrivateKey,
    SigningKey,
    aead_decrypt,
    aead_encrypt,
    b64d,
    b64e,
    box_unwrap,
    box_wrap,
    random_bytes,
    require_length,
    sign_detached,
    verify_detached,
)

__all__ = [
    "ALG",
    "WIRE_FIELDS",
    "Envelope",
    "build_aad",
    "compute_commitment",
    "keys_block",
    "open_envelope",
    "seal",
    "signature_input",
    "verify_envelope",
]

COMMITMENT_BYTES = 32
_MESSAGE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_SERVER_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_ALG_NAME = re.compile(r"[a-z0-9-]{1,32}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Envelope:
    """One sealed message as it travels; binary fields hold raw bytes, not base64."""

    message_id: str
    sender_device_id: str
    alg: str
    urgent: bool
    nonce: bytes
    ciphertext: bytes
    keys: dict[str, bytes]
    commitment: bytes
    signature: bytes

    def to_wire(self) -> dict[str, Any]:
        """The JSON shape of API.md's ``envelope`` plus ``commitment``."""
        return {name: _to_wire(getattr(self, name)) for name in WIRE_FIELDS}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Envelope:
        """Parse strictly: exact field set, JSON types, canonical base64url, exact sizes."""
        if not isinstance(data, Mapping):
            raise EnvelopeError("envelope must be a JSON object", field="envelope")
        unknown = sorted(set(data) - set(WIRE_FIELDS))
        missing = sorted(set(WIRE_FIELDS) - set(data))
        if unknown or missing:
            field = (unknown or missing)[0]
            raise EnvelopeError(f"missing fields {missing}, unknown fields {unknown}", field=field)
        return cls(
            message_id=_matching("message_id", data["message_id"], _MESSAGE_ID),
            sender_device_id=_matching("sender_device_id", data["sender_device_id"], _SERVER_ID),
            alg=_matching("alg", data["alg"], _ALG_NAME),
            urgent=_boolean("urgent", data["urgent"]),
            nonce=_binary("nonce", data["nonce"], NONCE_BYTES),
            ciphertext=_binary("ciphertext", data["ciphertext"]),
            keys=_wire_keys(data["keys"]),
            commitment=_binary("commitment", data["commitment"], COMMITMENT_BYTES),
            signature=_binary("signature", data["signature"], SIGNATURE_BYTES),
        )


# The envelope's fields in wire order: the one list (API.md's order; the gateway's schema too).
WIRE_FIELDS: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(Envelope))


def _to_wire(value: object) -> object:
    """Binary as canonical base64url, key boxes by device id; the rest as it is."""
    if isinstance(value, bytes):
        return b64e(value)
    if isinstance(value, dict):
        return {device: b64e(box) for device, box in sorted(value.items())}
    return value


def _matching(field: str, value: object, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise EnvelopeError(f"{field} is malformed", field=field)
    return value


def _boolean(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise EnvelopeError(f"{field} must be a JSON boolean", field=field)
    return value


def _binary(field: str, value: object, size: int | None = None) -> bytes:
    """Decode one base64url field; without ``size`` it must at least hold an AEAD tag."""
    if not isinstance(value, str):
        raise EnvelopeError(f"{field} must be a base64url string", field=field)
    try:
        raw = b64d(value)
    except ValueError as exc:
        raise EnvelopeError(f"{field} is not canonical base64url", field=field) from exc
    if size is not None and len(raw) != size:
        raise EnvelopeError(f"{field} must be {size} bytes", field=field)
    if size is None and len(raw) < TAG_BYTES:
        raise EnvelopeError(f"{field} is shorter than an AEAD tag", field=field)
    return raw


def _wire_keys(value: object) -> dict[str, bytes]:
    if not isinstance(value, Mapping) or not value:
        raise EnvelopeError("keys must be a non-empty JSON object", field="keys")
    keys: dict[str, bytes] = {}
    for device, box in value.items():
        _matching("keys", device, _SERVER_ID)
        keys[device] = _binary(f"keys.{device}", box, WRAPPED_KEY_BYTES)
    return keys


def build_aad(conversation_id: str, message_id: str, sender_device_id: str) -> bytes:
    """AEAD associated data; the id formats exclude NUL, so the encoding is injective."""
    _matching("conversation_id", conversation_id, _SERVER_ID)
    _matching("message_id", message_id, _MESSAGE_ID)
    _matching("sender_device_id", sender_device_id, _SERVER_ID)
    parts = (ALG, conversation_id, message_id, sender_device_id)
    return b"\x00".join(part.encode("utf-8") for part in parts)


def keys_block(keys: Mapping[str, bytes]) -> bytes:
    """Every wrapped key under its device id, in ascending UTF-8 byte order of the ids."""
    ordered = sorted(keys.items(), key=lambda item: item[0].encode("utf-8"))
    return b"".join(
        device.encode("utf-8") + b"\x00" + require_length("keys entry", box, WRAPPED_KEY_BYTES)
        for device, box in ordered
    )


def compute_commitment(content_key: bytes, nonce: bytes) -> bytes:
    """Key commitment: XChaCha20-Poly1305 alone would let one ciphertext open two ways."""
    require_length("content key", content_key, KEY_BYTES)
    message = b"haven-v1-commit\x00" + require_length("nonce", nonce, NONCE_BYTES)
    return hashlib.blake2b(message, digest_size=COMMITMENT_BYTES, key=content_key).digest()


def signature_input(conversation_id: str, envelope: Envelope) -> bytes:
    """The exact bytes the sender signs; ``flags`` binds the urgent bit to the content."""
    aad = build_aad(conversation_id, envelope.message_id, envelope.sender_device_id)
    return b"".join(
        (
            b"haven-v1-sig\x00" + aad + b"\x00",
            require_length("nonce", envelope.nonce, NONCE_BYTES),
            hashlib.sha512(envelope.ciphertext).digest(),
            hashlib.sha512(keys_block(envelope.keys)).digest(),
            require_length("commitment", envelope.commitment, COMMITMENT_BYTES),
            b"\x01" if envelope.urgent else b"\x00",
        )
    )


def seal(
    payload: bytes,
    *,
    conversation_id: str,
    message_id: str,
    sender_device_id: str,
    identity: SigningKey,
    kx: KxPrivateKey,
    recipients: Mapping[str, bytes],
    urgent: bool,
    content_key: bytes | None = None,
    nonce: bytes | None = None,
    box_nonces: Mapping[str, bytes] | None = None,
) -> Envelope:
    """Encrypt ``payload`` once and wrap its key for every device in ``recipients``.

    ``recipients`` maps device id to a kx public key the caller has already trusted;
    it must include the sending device. The optional key and nonces exist only for
    deterministic test vectors: production callers leave them out.
    """
    if sender_device_id not in recipients:
        raise CryptoError("recipients must include the sending device")
    key = random_bytes(KEY_BYTES) if content_key is None else content_key
    body_nonce = random_bytes(NONCE_BYTES) if nonce is None else nonce
    aad = build_aad(conversation_id, message_id, sender_device_id)
    chosen = box_nonces or {}
    unsigned = Envelope(
        message_id=message_id,
        sender_device_id=sender_device_id,
        alg=ALG,
        urgent=urgent,
        nonce=body_nonce,
        ciphertext=aead_encrypt(payload, aad, body_nonce, key),
        keys={d: box_wrap(key, kx, pk, chosen.get(d)) for d, pk in recipients.items()},
        commitment=compute_commitment(key, body_nonce),
        signature=b"",
    )
    signature = sign_detached(identity, signature_input(conversation_id, unsigned))
    return dataclasses.replace(unsigned, signature=signature)


def verify_envelope(conversation_id: str, envelope: Envelope, identity_public: bytes) -> None:
    """The gateway's check: a known ``alg`` and a valid signature by the sending device."""
    if envelope.alg != ALG:
        raise BadSignatureError(f"unsupported alg {envelope.alg!r}")
    try:
        message = signature_input(conversation_id, envelope)
    except CryptoError as exc:
        raise BadSignatureError(f"envelope cannot be verified: {exc}") from exc
    if not verify_detached(identity_public, message, envelope.signature):
        raise BadSignatureError("envelope signature does not verify")


def open_envelope(
    envelope: Envelope,
    *,
    conversation_id: str,
    own_device_id: str,
    own_kx: KxPrivateKey,
    sender_identity_public: bytes,
    sender_kx_public: bytes,
) -> bytes:
    """Receiver steps 1-4 of API.md; any failure raises ``EnvelopeError``, never a partial."""
    if envelope.alg != ALG:
        raise EnvelopeError(f"unsupported alg {envelope.alg!r}", field="alg")
    wrapped = envelope.keys.get(own_device_id)
    if wrapped is None:
        raise EnvelopeError("this device is not among the recipients", field="keys")
    try:
        verify_envelope(conversation_id, envelope, sender_identity_public)
    except BadSignatureError as exc:
        raise EnvelopeError(str(exc), field="signature") from exc
    try:
        content_key = box_unwrap(wrapped, own_kx, sender_kx_public)
    except CryptoError as exc:
        raise EnvelopeError(f"own key box: {exc}", field="keys") from exc
    if len(content_key) != KEY_BYTES or not hmac.compare_digest(
        compute_commitment(content_key, envelope.nonce), envelope.commitment
    ):
        raise EnvelopeError("content key does not match the signed commitment", field="commitment")
    aad = build_aad(conversation_id, envelope.message_id, envelope.sender_device_id)
    try:
        return aead_decrypt(envelope.ciphertext, aad, envelope.nonce, content_key)
    except CryptoError as exc:
        raise EnvelopeError(str(exc), field="ciphertext") from exc
