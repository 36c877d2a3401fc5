"""The key deletion receipts are signed with: its own, never the token key.

A receipt is a long-lived proof a person keeps (that they asked for their data to go, and
when); a token key is short-lived operational state, rotated and shared by every replica, and
whoever holds it could sign receipts too. So receipts get an Ed25519 key of their own
(`HAVEN_RECEIPT_KEY_FILE`; older ones in `HAVEN_PREVIOUS_RECEIPT_KEY_FILES` keep verifying),
and `GET /v1/keys` publishes these keys and only these — the token keys are published nowhere.
"""

from __future__ import annotations

from pathlib import Path

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.gateway.security.tokens import key_id, load_key
from services.gateway.settings import GatewaySettings

log = structlog.get_logger(__name__)


class ReceiptSigner:
    """Signs receipts with the current receipt key; publishes it and the previous ones."""

    def __init__(self, current: Ed25519PrivateKey, previous: list[Ed25519PrivateKey]) -> None:
        self._current = current
        self.kid = key_id(current.public_key())
        self._publics = {key_id(k.public_key()): k.public_key() for k in [current, *previous]}

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> ReceiptSigner:
        if settings.receipt_key_file is None:
            log.warning("ephemeral_receipt_key", hint="set HAVEN_RECEIPT_KEY_FILE: receipts")
            return cls(Ed25519PrivateKey.generate(), [])
        previous = [
            load_key(Path(p.strip()))
            for p in settings.previous_receipt_key_files.split(",")
            if p.strip()
        ]
        return cls(load_key(settings.receipt_key_file), previous)

    def public_keys(self) -> dict[str, bytes]:
        """Every receipt key id -> its raw Ed25519 public key (`GET /v1/keys`)."""
        raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
        return {kid: public.public_bytes(*raw) for kid, public in self._publics.items()}

    def sign(self, data: bytes) -> bytes:
        return self._current.sign(data)
