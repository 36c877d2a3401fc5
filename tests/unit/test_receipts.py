"""Deletion receipts: signed by the token key, verified offline (SDK and haven-admin)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from haven_crypto.crypto import b64e
from haven_crypto.receipts import verify_receipt
from services.gateway.cli.admin import main
from services.gateway.security.tokens import TokenSigner
from services.gateway.usecases.deletion import AccountDeletion


def issued(signer: TokenSigner) -> tuple[dict[str, object], str]:
    deletion = AccountDeletion.__new__(AccountDeletion)
    deletion._signer = signer  # only the signing part is under test
    return deletion.receipt("acct-1", "sam", datetime(2026, 12, 1, 21, 0, tzinfo=UTC))


def test_a_receipt_verifies_with_the_public_key_and_fails_when_altered() -> None:
    signer = TokenSigner(Ed25519PrivateKey.generate(), [])
    receipt, signature = issued(signer)
    keys = signer.public_keys()
    assert verify_receipt(receipt, signature, keys)
    assert verify_receipt(receipt, signature, {k: b64e(v) for k, v in keys.items()})
    assert not verify_receipt({**receipt, "account_id": "acct-2"}, signature, keys)
    assert not verify_receipt({**receipt, "deletes": []}, signature, keys)
    other = TokenSigner(Ed25519PrivateKey.generate(), [])
    assert not verify_receipt(receipt, signature, {signer.kid: other.public_keys()[other.kid]})
    assert not verify_receipt(receipt, "not base64!", keys)
    assert not verify_receipt({**receipt, "key_id": "unknown"}, signature, keys)


def test_a_receipt_signed_before_a_key_rotation_still_verifies() -> None:
    old = Ed25519PrivateKey.generate()
    receipt, signature = issued(TokenSigner(old, []))
    rotated = TokenSigner(Ed25519PrivateKey.generate(), [old])
    assert verify_receipt(receipt, signature, rotated.public_keys())


def test_haven_admin_verify_receipt(tmp_path: Path) -> None:
    signer = TokenSigner(Ed25519PrivateKey.generate(), [])
    receipt, signature = issued(signer)
    [(kid, raw)] = signer.public_keys().items()
    good = tmp_path / "receipt.json"
    good.write_text(json.dumps({"receipt": receipt, "receipt_signature": signature}))
    bad = tmp_path / "altered.json"
    altered = {**receipt, "requested_at": "2030-01-01T00:00:00Z"}
    bad.write_text(json.dumps({"receipt": altered, "receipt_signature": signature}))
    key = f"{kid}={b64e(raw)}"
    assert main(["verify-receipt", str(good), "--public-key", key]) == 0
    assert main(["verify-receipt", str(bad), "--public-key", key]) == 1
    assert main(["verify-receipt", str(tmp_path / "missing.json"), "--public-key", key]) == 2
