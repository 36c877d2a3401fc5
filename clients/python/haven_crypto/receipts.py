"""Signed receipts (account deletion): one canonical byte form, signed by the gateway's token
key, verifiable by anyone holding its public key — without an account and offline.

The signature is Ed25519 over `b"haven-receipt-v1\\x00"` + the receipt as canonical JSON (keys
sorted, no whitespace, UTF-8). The receipt names the signing key (`key_id`, the token `kid`);
the gateway publishes its public keys at `GET /v1/keys`. Used by the gateway (signing), the
SDK and `haven-admin verify-receipt` (verifying).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import nacl.exceptions
import nacl.signing

from haven_crypto.crypto import CryptoError, b64d

DOMAIN = b"haven-receipt-v1\x00"


def canonical(receipt: Mapping[str, Any]) -> bytes:
    """The exact bytes a receipt's signature covers."""
    body = json.dumps(receipt, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return DOMAIN + body.encode("utf-8")


def verify_receipt(
    receipt: Mapping[str, Any], signature: str, public_keys: Mapping[str, bytes | str]
) -> bool:
    """True only if `signature` (base64url) is the receipt's, by the key it names among
    `public_keys` (key id -> raw 32-byte Ed25519 public key, or its base64url). Any change to
    the receipt, the signature or the key id makes it False; nothing raises."""
    key = public_keys.get(str(receipt.get("key_id", "")))
    if key is None:
        return False
    try:
        raw_key = b64d(key) if isinstance(key, str) else key
        raw_signature = b64d(signature)
        nacl.signing.VerifyKey(raw_key).verify(canonical(receipt), raw_signature)
    except (CryptoError, nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        return False
    except (TypeError, ValueError):
        return False
    return True
