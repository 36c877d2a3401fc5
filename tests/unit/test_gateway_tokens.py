"""Access tokens: Ed25519, key ids, rotation; and the refresh-successor derivation."""

from __future__ import annotations

import secrets
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.gateway.security.tokens import (
    Claims,
    InvalidTokenError,
    TokenSigner,
    refresh_successor,
)


def claims(expires_in: int = 300) -> Claims:
    return Claims("acc", "dev", "client", 3, int(time.time()) + expires_in)


def test_a_token_verifies_on_any_replica_with_the_same_key() -> None:
    key = Ed25519PrivateKey.generate()
    token = TokenSigner(key, []).issue(claims())
    verified = TokenSigner(key, []).verify(token)
    assert (verified.account_id, verified.device_id, verified.role, verified.session) == (
        "acc",
        "dev",
        "client",
        3,
    )


def test_rotation_keeps_old_tokens_valid_while_the_old_key_is_listed() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    token = TokenSigner(old, []).issue(claims())
    assert TokenSigner(new, [old]).verify(token).device_id == "dev"
    with pytest.raises(InvalidTokenError):
        TokenSigner(new, []).verify(token)


def test_expired_tampered_and_foreign_tokens_are_refused() -> None:
    signer = TokenSigner(Ed25519PrivateKey.generate(), [])
    with pytest.raises(InvalidTokenError):
        signer.verify(signer.issue(claims(expires_in=-10)))
    token = signer.issue(claims())
    header, payload, signature = token.split(".")
    with pytest.raises(InvalidTokenError):
        signer.verify(f"{header}.{payload[:-2]}AA.{signature}")
    with pytest.raises(InvalidTokenError):
        signer.verify("not-a-token")
    with pytest.raises(InvalidTokenError):
        TokenSigner(Ed25519PrivateKey.generate(), []).verify(token)


def test_refresh_successor_is_deterministic_per_key_and_unguessable() -> None:
    key = Ed25519PrivateKey.generate()
    a, b = TokenSigner(key, []), TokenSigner(key, [])
    assert a.refresh_successor("t1") == b.refresh_successor("t1")
    assert a.refresh_successor("t1") != a.refresh_successor("t2")
    other = TokenSigner(Ed25519PrivateKey.generate(), [])
    assert other.refresh_successor("t1") != a.refresh_successor("t1")


def test_a_seeded_successor_depends_on_the_token_and_its_seed_only() -> None:
    seed = secrets.token_bytes(32)
    assert refresh_successor("t1", seed) == refresh_successor("t1", bytes(seed))
    assert refresh_successor("t1", seed) != refresh_successor("t2", seed)
    assert refresh_successor("t1", seed) != refresh_successor("t1", secrets.token_bytes(32))
    assert len(refresh_successor("t1", seed)) == 43  # 32 bytes, base64url without padding
