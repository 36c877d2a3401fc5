"""The committed haven-v1 vectors reproduce byte-exact, checked against the spec text."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from nacl import bindings
from nacl.public import Box, PrivateKey, PublicKey
from nacl.signing import SigningKey

from haven_crypto.crypto import (
    ALG,
    kx_signature_input,
    login_proof_input,
    safety_number,
    sign_kx,
    sign_login_proof,
    verify_kx_signature,
    verify_login_proof,
)
from haven_crypto.envelope import (
    Envelope,
    build_aad,
    keys_block,
    open_envelope,
    seal,
    signature_input,
    verify_envelope,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
CONVERSATION = "conv_test"


@cache
def vectors() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((VECTORS / "haven-v1.json").read_text(encoding="utf-8"))
    return loaded


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


def _vector_device(device_id: str) -> dict[str, Any]:
    return next(d for d in vectors()["devices"] if d["device_id"] == device_id)


# --- vectors ---------------------------------------------------------------------------


def test_vector_file_is_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("make_vectors", VECTORS / "make_vectors.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == (VECTORS / "haven-v1.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("index", [0, 1, 2])
def test_vector_device_keys_and_kx_signature_reproduce(index: int) -> None:
    device = vectors()["devices"][index]
    identity = SigningKey(_h(device["identity_seed_hex"]))
    kx_public = bytes(PrivateKey(_h(device["kx_private_hex"])).public_key)
    assert bytes(identity.verify_key).hex() == device["identity_public_hex"]
    assert kx_public.hex() == device["kx_public_hex"]
    expected_input = b"haven-kx-v1\x00" + device["handle"].lower().encode() + b"\x00" + kx_public
    assert kx_signature_input(device["handle"], kx_public) == expected_input
    assert expected_input.hex() == device["kx_signature_input_hex"]
    assert sign_kx(identity, device["handle"], kx_public).hex() == device["kx_signature_hex"]
    signature = _h(device["kx_signature_hex"])
    assert verify_kx_signature(bytes(identity.verify_key), device["handle"], kx_public, signature)


def test_vector_login_proof_reproduces() -> None:
    proof = vectors()["login_proof"]
    device = _vector_device(proof["device_id"])
    identity = SigningKey(_h(device["identity_seed_hex"]))
    identity_public, kx_public = _h(device["identity_public_hex"]), _h(device["kx_public_hex"])
    expected = (
        b"haven-login-v1\x00"
        + proof["handle"].lower().encode()
        + b"\x00"
        + str(proof["ts"]).encode()
        + b"\x00"
        + identity_public
        + kx_public
    )
    assert login_proof_input(proof["handle"], proof["ts"], identity_public, kx_public) == expected
    assert expected.hex() == proof["input_hex"]
    signed = sign_login_proof(identity, proof["handle"], proof["ts"], kx_public)
    assert signed.hex() == proof["proof_hex"]
    assert verify_login_proof(identity_public, proof["handle"], proof["ts"], kx_public, signed)


def _independent_intermediates(vector: dict[str, Any]) -> dict[str, bytes]:
    """Rebuild aad, keys_block and sig_input from the spec text and the vector's own bytes."""
    aad = b"\x00".join(
        part.encode()
        for part in (
            ALG,
            vector["conversation_id"],
            vector["message_id"],
            vector["sender_device_id"],
        )
    )
    order = sorted(vector["keys_hex"], key=lambda device: device.encode())
    block = b"".join(d.encode() + b"\x00" + _h(vector["keys_hex"][d]) for d in order)
    commitment = hashlib.blake2b(
        b"haven-v1-commit\x00" + _h(vector["nonce_hex"]),
        digest_size=32,
        key=_h(vector["content_key_hex"]),
    ).digest()
    sig_input = (
        b"haven-v1-sig\x00"
        + aad
        + b"\x00"
        + _h(vector["nonce_hex"])
        + hashlib.sha512(_h(vector["ciphertext_hex"])).digest()
        + hashlib.sha512(block).digest()
        + commitment
        + (b"\x01" if vector["urgent"] else b"\x00")
    )
    return {"aad": aad, "keys_block": block, "commitment": commitment, "sig_input": sig_input}


@pytest.mark.parametrize("index", [0, 1])
def test_vector_envelope_intermediates_match_the_spec_text(index: int) -> None:
    vector = vectors()["envelopes"][index]
    rebuilt = _independent_intermediates(vector)
    for name, value in rebuilt.items():
        assert value.hex() == vector[f"{name}_hex"], name
    assert vector["keys_block_order"] == sorted(vector["keys_hex"], key=str.encode)
    content_key, aad = _h(vector["content_key_hex"]), rebuilt["aad"]
    payload = bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        _h(vector["ciphertext_hex"]), aad, _h(vector["nonce_hex"]), content_key
    )
    assert payload == _h(vector["payload_hex"]) == vector["payload_utf8"].encode()
    sender = _vector_device(vector["sender_device_id"])
    for device_id, wrapped in vector["keys_hex"].items():
        device = _vector_device(device_id)
        box = Box(PrivateKey(_h(device["kx_private_hex"])), PublicKey(_h(sender["kx_public_hex"])))
        assert _h(wrapped)[:24].hex() == vector["box_nonces_hex"][device_id]
        assert box.decrypt(_h(wrapped)) == content_key


@pytest.mark.parametrize("index", [0, 1])
def test_vector_envelope_reproduces_byte_exact(index: int) -> None:
    vector = vectors()["envelopes"][index]
    sender = _vector_device(vector["sender_device_id"])
    devices = vectors()["devices"]
    envelope = seal(
        _h(vector["payload_hex"]),
        conversation_id=vector["conversation_id"],
        message_id=vector["message_id"],
        sender_device_id=vector["sender_device_id"],
        identity=SigningKey(_h(sender["identity_seed_hex"])),
        kx=PrivateKey(_h(sender["kx_private_hex"])),
        recipients={d["device_id"]: _h(d["kx_public_hex"]) for d in devices},
        urgent=vector["urgent"],
        content_key=_h(vector["content_key_hex"]),
        nonce=_h(vector["nonce_hex"]),
        box_nonces={d: _h(n) for d, n in vector["box_nonces_hex"].items()},
    )
    conversation = vector["conversation_id"]
    aad = build_aad(conversation, envelope.message_id, envelope.sender_device_id)
    assert aad.hex() == vector["aad_hex"]
    assert keys_block(envelope.keys).hex() == vector["keys_block_hex"]
    assert signature_input(conversation, envelope).hex() == vector["sig_input_hex"]
    assert envelope.signature.hex() == vector["signature_hex"]
    assert envelope.to_wire() == vector["wire"]
    assert Envelope.from_wire(vector["wire"]) == envelope
    verify_envelope(conversation, envelope, _h(sender["identity_public_hex"]))
    for device in devices:
        opened = open_envelope(
            envelope,
            conversation_id=conversation,
            own_device_id=device["device_id"],
            own_kx=PrivateKey(_h(device["kx_private_hex"])),
            sender_identity_public=_h(sender["identity_public_hex"]),
            sender_kx_public=_h(sender["kx_public_hex"]),
        )
        assert opened == _h(vector["payload_hex"])


@pytest.mark.parametrize("index", [0, 1])
def test_vector_safety_number_reproduces(index: int) -> None:
    vector = vectors()["safety_numbers"][index]
    keys_a = [_h(key) for key in vector["identity_keys_a_hex"]]
    keys_b = [_h(key) for key in vector["identity_keys_b_hex"]]
    number = safety_number(vector["account_a"], keys_a, vector["account_b"], keys_b)
    assert number == vector["safety_number"]
    assert number[:30] == _reference_half(vector["account_b"], keys_b)  # "acc_Bob" < "acc_alice"
    assert number[30:] == _reference_half(vector["account_a"], keys_a)


def _reference_half(account_id: str, keys: list[bytes]) -> str:
    joined = b"".join(sorted(keys))
    h = hashlib.sha512(b"haven-sn-v1\x00" + account_id.encode() + b"\x00" + joined).digest()
    for _ in range(5199):
        h = hashlib.sha512(h + joined).digest()
    return "".join(
        str(int.from_bytes(h[i : i + 5], "big") % 100000).zfill(5) for i in (0, 5, 10, 15, 20, 25)
    )
