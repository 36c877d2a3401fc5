"""Deterministic haven-v1 test vectors for implementers in any language.

Run from the repository root: ``python -m tests.vectors.make_vectors``; it rewrites
``tests/vectors/haven-v1.json`` next to this file. Every secret is derived from a
fixed label (``SHA-256(label)``), every nonce and content key is fixed, and Ed25519
and crypto_box with a given nonce are deterministic, so the output is byte-stable.
``tests/unit/test_crypto.py`` recomputes every value from the JSON inputs and also
checks that this script still produces the committed file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from haven_crypto.crypto import (
    kx_signature_input,
    login_proof_input,
    safety_number,
    sign_kx,
    sign_login_proof,
)
from haven_crypto.envelope import (
    build_aad,
    compute_commitment,
    keys_block,
    seal,
    signature_input,
)

OUTPUT = Path(__file__).with_name("haven-v1.json")
CONVERSATION_ID = "conv_7Hq2-xZ"
LOGIN_TS = 1795000000

# (device_id, account_id, handle as the user typed it)
DEVICES = (
    ("dev_alice-phone", "acc_alice", "Alice"),
    ("dev_alice-laptop", "acc_alice", "Alice"),
    ("Dev_bob_1", "acc_Bob", "bob"),
)

ENVELOPES = (
    {
        "name": "normal",
        "sender_device_id": "dev_alice-phone",
        "message_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "urgent": False,
        "payload": {
            "type": "text",
            "body": "Guten Morgen — see you at 10 ☕",
            "sent_at": 1795000123,
        },
    },
    {
        "name": "urgent",
        "sender_device_id": "dev_alice-laptop",
        "message_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "urgent": True,
        "payload": {"type": "text", "body": "I need to talk now", "sent_at": 1795000456},
    },
)


def _fixed(label: str) -> bytes:
    """32 bytes for a named secret or nonce source: reproducible, and obviously a test value."""
    return hashlib.sha256(f"haven-v1 test vector: {label}".encode()).digest()


def _device(device_id: str, account_id: str, handle: str) -> dict[str, Any]:
    identity = SigningKey(_fixed(f"{device_id} identity seed"))
    kx = PrivateKey(_fixed(f"{device_id} kx private"))
    kx_public = bytes(kx.public_key)
    return {
        "device_id": device_id,
        "account_id": account_id,
        "handle": handle,
        "identity_seed_hex": bytes(identity).hex(),
        "identity_public_hex": bytes(identity.verify_key).hex(),
        "kx_private_hex": bytes(kx).hex(),
        "kx_public_hex": kx_public.hex(),
        "kx_signature_input_hex": kx_signature_input(handle, kx_public).hex(),
        "kx_signature_hex": sign_kx(identity, handle, kx_public).hex(),
    }


def _login_proof(device: dict[str, Any]) -> dict[str, Any]:
    identity = SigningKey(bytes.fromhex(device["identity_seed_hex"]))
    identity_public = bytes.fromhex(device["identity_public_hex"])
    kx_public = bytes.fromhex(device["kx_public_hex"])
    handle = device["handle"]
    return {
        "device_id": device["device_id"],
        "handle": handle,
        "ts": LOGIN_TS,
        "input_hex": login_proof_input(handle, LOGIN_TS, identity_public, kx_public).hex(),
        "proof_hex": sign_login_proof(identity, handle, LOGIN_TS, kx_public).hex(),
    }


def _envelope(spec: dict[str, Any], devices: list[dict[str, Any]]) -> dict[str, Any]:
    name, sender_id = spec["name"], spec["sender_device_id"]
    sender = next(d for d in devices if d["device_id"] == sender_id)
    payload = json.dumps(spec["payload"], ensure_ascii=False, separators=(",", ":")).encode()
    content_key, nonce = _fixed(f"{name} content key"), _fixed(f"{name} nonce")[:24]
    box_nonces = {
        d["device_id"]: _fixed(f"{name} box nonce {d['device_id']}")[:24] for d in devices
    }
    envelope = seal(
        payload,
        conversation_id=CONVERSATION_ID,
        message_id=spec["message_id"],
        sender_device_id=sender_id,
        identity=SigningKey(bytes.fromhex(sender["identity_seed_hex"])),
        kx=PrivateKey(bytes.fromhex(sender["kx_private_hex"])),
        recipients={d["device_id"]: bytes.fromhex(d["kx_public_hex"]) for d in devices},
        urgent=spec["urgent"],
        content_key=content_key,
        nonce=nonce,
        box_nonces=box_nonces,
    )
    block = keys_block(envelope.keys)
    return {
        "name": name,
        "conversation_id": CONVERSATION_ID,
        "message_id": envelope.message_id,
        "sender_device_id": sender_id,
        "urgent": envelope.urgent,
        "payload_utf8": payload.decode(),
        "payload_hex": payload.hex(),
        "content_key_hex": content_key.hex(),
        "nonce_hex": nonce.hex(),
        "box_nonces_hex": {device: value.hex() for device, value in box_nonces.items()},
        "aad_hex": build_aad(CONVERSATION_ID, envelope.message_id, sender_id).hex(),
        "ciphertext_hex": envelope.ciphertext.hex(),
        "commitment_hex": compute_commitment(content_key, nonce).hex(),
        "keys_hex": {device: value.hex() for device, value in sorted(envelope.keys.items())},
        "keys_block_order": sorted(envelope.keys, key=lambda device: device.encode()),
        "keys_block_hex": block.hex(),
        "ciphertext_sha512_hex": hashlib.sha512(envelope.ciphertext).hexdigest(),
        "keys_block_sha512_hex": hashlib.sha512(block).hexdigest(),
        "sig_input_hex": signature_input(CONVERSATION_ID, envelope).hex(),
        "signature_hex": envelope.signature.hex(),
        "wire": envelope.to_wire(),
    }


def _safety(devices: list[dict[str, Any]], with_new_device: bool) -> dict[str, Any]:
    keys: dict[str, list[bytes]] = {}
    for device in devices:
        keys.setdefault(device["account_id"], []).append(
            bytes.fromhex(device["identity_public_hex"])
        )
    if with_new_device:
        new_device = SigningKey(_fixed("dev_bob_2 identity seed"))
        keys["acc_Bob"].append(bytes(new_device.verify_key))
    (account_a, keys_a), (account_b, keys_b) = keys.items()
    return {
        "account_a": account_a,
        "identity_keys_a_hex": [key.hex() for key in keys_a],
        "account_b": account_b,
        "identity_keys_b_hex": [key.hex() for key in keys_b],
        "safety_number": safety_number(account_a, keys_a, account_b, keys_b),
    }


def build_vectors() -> dict[str, Any]:
    """Every vector as one JSON-ready object."""
    devices = [_device(*device) for device in DEVICES]
    return {
        "alg": "haven-v1",
        "about": (
            "Test vectors for API.md sections Keys and Envelope haven-v1. *_hex values are "
            "lowercase hex; 'wire' objects use canonical base64url without padding. "
            "Ed25519 keys are built from identity_seed_hex (libsodium seed_keypair); "
            "kx_private_hex is the raw X25519 scalar (clamped by X25519 itself). Handles are "
            "lowercased before signing. The envelope carries an extra 'commitment' field "
            "(32 bytes) so that the gateway can recompute sig_input; receivers recompute "
            "it from the opened content key and compare. payload_utf8 is informational: "
            "payload_hex holds the exact plaintext bytes."
        ),
        "devices": devices,
        "login_proof": _login_proof(devices[0]),
        "envelopes": [_envelope(spec, devices) for spec in ENVELOPES],
        "safety_numbers": [_safety(devices, False), _safety(devices, True)],
    }


def render() -> str:
    """The exact file contents, so the test can compare them to the committed artifact."""
    return json.dumps(build_vectors(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Rewrite the committed vector file."""
    OUTPUT.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
