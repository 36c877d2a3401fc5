"""Opening history through the backup recipient (docs/history.md, "Wrapping for the backup
recipient"), in two steps so a restored message can be read again later without the
recovery key: ``unwrap_content_key`` (signature, key box, commitment) yields the message's
content key, which the device may keep; ``open_with_content_key`` repeats the signature
and commitment checks and decrypts with the aad built from the receiver's own records.

Both steps are ``open_envelope``'s checks, in the same order, with the backup entry in
place of the device: the wrap is a ``crypto_box`` from the sender device's kx key, so
opening it also proves which device made it.
"""

from __future__ import annotations

import hmac

from haven_crypto.crypto import (
    ALG,
    KEY_BYTES,
    BadSignatureError,
    CryptoError,
    EnvelopeError,
    KxPrivateKey,
    aead_decrypt,
    box_unwrap,
)
from haven_crypto.envelope import Envelope, build_aad, compute_commitment, verify_envelope

__all__ = ["open_with_content_key", "unwrap_content_key"]


def _verified(envelope: Envelope, conversation_id: str, sender_identity_public: bytes) -> None:
    if envelope.alg != ALG:
        raise EnvelopeError(f"unsupported alg {envelope.alg!r}", field="alg")
    try:
        verify_envelope(conversation_id, envelope, sender_identity_public)
    except BadSignatureError as exc:
        raise EnvelopeError(str(exc), field="signature") from exc


def _committed(envelope: Envelope, content_key: bytes) -> bytes:
    if len(content_key) != KEY_BYTES or not hmac.compare_digest(
        compute_commitment(content_key, envelope.nonce), envelope.commitment
    ):
        raise EnvelopeError("content key does not match the signed commitment", field="commitment")
    return content_key


def unwrap_content_key(
    envelope: Envelope,
    *,
    conversation_id: str,
    backup_id: str,
    backup_kx: KxPrivateKey,
    sender_identity_public: bytes,
    sender_kx_public: bytes,
) -> bytes:
    """The content key from ``keys[backup_id]``, after the sender's signature verified."""
    wrapped = envelope.keys.get(backup_id)
    if wrapped is None:
        raise EnvelopeError("the backup key is not among the recipients", field="keys")
    _verified(envelope, conversation_id, sender_identity_public)
    try:
        content_key = box_unwrap(wrapped, backup_kx, sender_kx_public)
    except CryptoError as exc:
        raise EnvelopeError(f"backup key box: {exc}", field="keys") from exc
    return _committed(envelope, content_key)


def open_with_content_key(
    envelope: Envelope,
    *,
    conversation_id: str,
    content_key: bytes,
    sender_identity_public: bytes,
) -> bytes:
    """Receiver steps 1, 3 and 4 with a content key already in hand."""
    _verified(envelope, conversation_id, sender_identity_public)
    _committed(envelope, content_key)
    aad = build_aad(conversation_id, envelope.message_id, envelope.sender_device_id)
    try:
        return aead_decrypt(envelope.ciphertext, aad, envelope.nonce, content_key)
    except CryptoError as exc:
        raise EnvelopeError(str(exc), field="ciphertext") from exc
