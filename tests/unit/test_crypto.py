"""haven_crypto.crypto: key signatures, low-order points, base64url, safety numbers."""

from __future__ import annotations

import os

import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from haven_crypto.crypto import (
    CryptoError,
    EnvelopeError,
    LowOrderKeyError,
    b64d,
    b64e,
    check_x25519_public,
    is_low_order_x25519,
    kx_signature_input,
    safety_number,
    sign_kx,
    sign_login_proof,
    verify_kx_signature,
    verify_login_proof,
)
from haven_crypto.envelope import (
    compute_commitment,
    seal,
)
from tests.unit.crypto_support import (
    CONVERSATION,
    MESSAGE_ID,
    PAYLOAD,
    Device,
    flip,
    open_for,
    seal_for,
    three_devices,
)


@pytest.fixture
def devices() -> list[Device]:
    return three_devices()


P = 2**255 - 19


# --- keys and login ----------------------------------------------------------------------


def test_kx_signature_is_bound_to_handle_key_and_identity() -> None:
    identity, kx = SigningKey.generate(), bytes(PrivateKey.generate().public_key)
    identity_public = bytes(identity.verify_key)
    signature = sign_kx(identity, "sam", kx)
    assert verify_kx_signature(identity_public, "sam", kx, signature)
    assert verify_kx_signature(identity_public, "SAM", kx, signature)  # handles are lowercased
    assert not verify_kx_signature(identity_public, "samuel", kx, signature)
    assert not verify_kx_signature(identity_public, "sam", flip(kx), signature)
    other_identity = bytes(SigningKey.generate().verify_key)
    assert not verify_kx_signature(other_identity, "sam", kx, signature)
    assert not verify_kx_signature(identity_public, "sam", kx, signature[:63])
    assert not verify_kx_signature(identity_public, "sam", kx[:31], signature)


def test_login_proof_binds_handle_ts_and_both_keys() -> None:
    identity, kx = SigningKey.generate(), bytes(PrivateKey.generate().public_key)
    identity_public = bytes(identity.verify_key)
    proof = sign_login_proof(identity, "sam", 1795000000, kx)
    assert verify_login_proof(identity_public, "sam", 1795000000, kx, proof)
    assert not verify_login_proof(identity_public, "sam", 1795000001, kx, proof)
    assert not verify_login_proof(identity_public, "other", 1795000000, kx, proof)
    assert not verify_login_proof(identity_public, "sam", 1795000000, flip(kx), proof)
    assert not verify_login_proof(identity_public, "sam", True, kx, proof)  # bool is not a ts
    assert not verify_kx_signature(identity_public, "sam", kx, proof)  # domain separation


def test_signature_inputs_refuse_nul_in_handle() -> None:
    with pytest.raises(CryptoError):
        kx_signature_input("sam\x00x", bytes(32))


# --- low-order points --------------------------------------------------------------------


def _x25519(scalar: int, u: int) -> int:
    """Textbook Montgomery ladder (RFC 7748), independent of libsodium."""
    x1, x2, z2, x3, z3, swap = u % P, 1, 0, u % P, 1, 0
    for bit in reversed(range(255)):
        k = (scalar >> bit) & 1
        swap ^= k
        x2, x3, z2, z3 = (x3, x2, z3, z2) if swap else (x2, x3, z2, z3)
        swap = k
        a, b, c, d = x2 + z2, x2 - z2, x3 + z3, x3 - z3
        aa, bb, da, cb = a * a, b * b, d * a, c * b
        x3, z3 = (da + cb) ** 2 % P, x1 * (da - cb) ** 2 % P
        x2, z2 = aa * bb % P, (aa - bb) * (aa + 121665 * (aa - bb)) % P
    x2, z2 = (x3, z3) if swap else (x2, z2)
    return x2 * pow(z2, P - 2, P) % P


LOW_ORDER = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    (P - 1).to_bytes(32, "little"),
    P.to_bytes(32, "little"),
    (P + 1).to_bytes(32, "little"),
]


@pytest.mark.parametrize("point", LOW_ORDER, ids=lambda p: p.hex()[:8])
@pytest.mark.parametrize("high_bit", [False, True])
def test_low_order_points_are_refused(point: bytes, high_bit: bool) -> None:
    if high_bit:
        point = point[:31] + bytes([point[31] | 0x80])
    u = int.from_bytes(point, "little") & ((1 << 255) - 1)
    assert _x25519(8 * 2**251, u) == 0  # really small order: cofactor times anything is 0
    assert is_low_order_x25519(point)
    with pytest.raises(LowOrderKeyError):
        check_x25519_public(point)


def test_ordinary_keys_pass_the_low_order_check() -> None:
    for _ in range(20):
        public = bytes(PrivateKey.generate().public_key)
        assert not is_low_order_x25519(public)
        assert check_x25519_public(public) == public
    with pytest.raises(CryptoError):
        is_low_order_x25519(bytes(31))


def test_seal_refuses_low_order_recipient(devices: list[Device]) -> None:
    recipients = {d.device_id: d.kx_public for d in devices} | {"dev-evil": LOW_ORDER[2]}
    with pytest.raises(LowOrderKeyError):
        seal(
            PAYLOAD,
            conversation_id=CONVERSATION,
            message_id=MESSAGE_ID,
            sender_device_id=devices[0].device_id,
            identity=devices[0].identity,
            kx=devices[0].kx,
            recipients=recipients,
            urgent=False,
        )


def test_open_refuses_low_order_sender_kx(devices: list[Device]) -> None:
    with pytest.raises(EnvelopeError, match="low-order"):
        open_for(seal_for(devices), devices, sender_kx_public=LOW_ORDER[0])


# --- base64url ---------------------------------------------------------------------------


def test_b64_round_trips_every_length() -> None:
    for size in range(40):
        data = os.urandom(size)
        text = b64e(data)
        assert not set(text) & set("=+/")
        assert b64d(text) == data


@pytest.mark.parametrize(
    "text",
    ["AA==", "AAA=", "+w", "/w", "A", "AB", "AAB", "AA AA", "AA\n", "ÄA", "AAAAA"],
)
def test_b64d_refuses_non_canonical_text(text: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        b64d(text)


def test_b64d_accepts_url_alphabet() -> None:
    assert b64d("-w") == b"\xfb"
    assert b64d("_w") == b"\xff"
    assert b64d("") == b""


# --- safety numbers ----------------------------------------------------------------------


def test_safety_number_is_60_digits_symmetric_and_tracks_devices() -> None:
    keys_a = [bytes(SigningKey.generate().verify_key) for _ in range(2)]
    keys_b = [bytes(SigningKey.generate().verify_key)]
    number = safety_number("acc_a", keys_a, "acc_b", keys_b)
    assert len(number) == 60
    assert number.isdigit()
    assert safety_number("acc_b", keys_b, "acc_a", keys_a) == number
    assert safety_number("acc_a", list(reversed(keys_a)), "acc_b", keys_b) == number
    added = [*keys_b, bytes(SigningKey.generate().verify_key)]
    changed = safety_number("acc_a", keys_a, "acc_b", added)
    assert changed != number
    assert changed[:30] == number[:30]
    assert safety_number("acc_a", keys_a[:1], "acc_b", keys_b)[30:] == number[30:]


def test_safety_number_needs_keys_of_the_right_size() -> None:
    key = bytes(SigningKey.generate().verify_key)
    with pytest.raises(CryptoError):
        safety_number("acc_a", [], "acc_b", [key])
    with pytest.raises(CryptoError):
        safety_number("acc_a", [key[:31]], "acc_b", [key])


def test_commitment_depends_on_key_and_nonce() -> None:
    key, nonce = os.urandom(32), os.urandom(24)
    assert len(compute_commitment(key, nonce)) == 32
    assert compute_commitment(key, nonce) != compute_commitment(os.urandom(32), nonce)
    assert compute_commitment(key, nonce) != compute_commitment(key, os.urandom(24))
