"""Deterministic vectors for history on a new device (docs/history.md) in any language.

Run from the repository root: ``python -m tests.vectors.make_backup_vectors``; it rewrites
``tests/vectors/backup.json``. Every secret derives from a fixed label (``SHA-256(label)``),
every nonce is fixed, and Ed25519, HKDF and crypto_box with a given nonce are
deterministic, so the output is byte-stable. ``tests/unit/test_backup_crypto.py`` checks
the file against this script and recomputes every value from its inputs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from haven_crypto.backup import (
    backup_keypair,
    backup_seed,
    backup_signature_input,
    base58_encode,
    encode_recovery_key,
    recovery_key_raw,
    sign_backup_key,
)
from haven_crypto.envelope import build_aad, seal, signature_input
from haven_crypto.link import LinkSecret, link_code, seal_link_secret

OUTPUT = Path(__file__).with_name("backup.json")
ACCOUNT_ID = "acc_alice"
HANDLE = "Alice"
CONVERSATION_ID = "conv_7Hq2-xZ"
BACKUP_ID = "bkp_alice-1"
DEVICES = ("dev_alice-phone", "dev_alice-laptop", "dev_alice-new")
COUNTERPART = "Dev_bob_1"
RECOVERY_LABELS = ("rk one", "rk two", "rk three")
EDGE_KEYS = (("all zero", bytes(32)), ("all ff", b"\xff" * 32))


def _fixed(label: str) -> bytes:
    """32 bytes for a named secret or nonce source: reproducible, and obviously a test value."""
    return hashlib.sha256(f"haven backup test vector: {label}".encode()).digest()


def _device(device_id: str) -> dict[str, Any]:
    identity = SigningKey(_fixed(f"{device_id} identity seed"))
    kx = PrivateKey(_fixed(f"{device_id} kx private"))
    return {
        "device_id": device_id,
        "identity_seed_hex": bytes(identity).hex(),
        "identity_public_hex": bytes(identity.verify_key).hex(),
        "kx_private_hex": bytes(kx).hex(),
        "kx_public_hex": bytes(kx.public_key).hex(),
    }


def _recovery_key(name: str, rk: bytes) -> dict[str, Any]:
    pair = backup_keypair(rk)
    return {
        "name": name,
        "rk_hex": rk.hex(),
        "raw_hex": recovery_key_raw(rk).hex(),
        "text": encode_recovery_key(rk),
        "seed_hex": backup_seed(rk).hex(),
        "backup_secret_hex": bytes(pair).hex(),
        "backup_public_hex": bytes(pair.public_key).hex(),
    }


def _invalid_keys(valid_text: str) -> list[dict[str, str]]:
    """Texts every parser must refuse, each with why; ``valid_text`` is the first RK."""
    compact = valid_text.replace(" ", "")
    typo_char = "2" if compact[5] != "2" else "3"
    typo = compact[:5] + typo_char + compact[6:]
    prefix_raw = bytearray(recovery_key_raw(_fixed(RECOVERY_LABELS[0])))
    prefix_raw[1] = 0x02
    prefix_raw[-1] ^= 0x01 ^ 0x02  # parity still right: only the prefix is wrong
    parity_raw = bytearray(recovery_key_raw(_fixed(RECOVERY_LABELS[0])))
    parity_raw[-1] ^= 0x01
    return [
        {"why": "typo (one character changed)", "text": typo},
        {"why": "wrong parity", "text": base58_encode(bytes(parity_raw))},
        {"why": "wrong prefix (0x48 0x02), parity right", "text": base58_encode(bytes(prefix_raw))},
        {"why": "character outside the alphabet (0)", "text": "0" + compact[1:]},
        {"why": "character outside the alphabet (l)", "text": compact[:-1] + "l"},
        {"why": "too short (last character dropped)", "text": compact[:-1]},
        {"why": "too long (a character added)", "text": compact + "1"},
        {"why": "empty", "text": "   "},
    ]


def _signatures(devices: list[dict[str, Any]], backup_public: bytes) -> list[dict[str, Any]]:
    out = []
    for device in devices[:2]:
        identity = SigningKey(bytes.fromhex(device["identity_seed_hex"]))
        out.append(
            {
                "device_id": device["device_id"],
                "handle": HANDLE,
                "kx_key_hex": backup_public.hex(),
                "input_hex": backup_signature_input(HANDLE, backup_public).hex(),
                "signature_hex": sign_backup_key(identity, HANDLE, backup_public).hex(),
            }
        )
    return out


def _link_codes(devices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pairs = ((devices[0], devices[2]), (devices[1], devices[2]), (devices[0], devices[1]))
    return [
        {
            "account_id": ACCOUNT_ID,
            "identity_key_a_hex": a["identity_public_hex"],
            "identity_key_b_hex": b["identity_public_hex"],
            "code": link_code(
                ACCOUNT_ID,
                bytes.fromhex(a["identity_public_hex"]),
                bytes.fromhex(b["identity_public_hex"]),
            ),
        }
        for a, b in pairs
    ]


def _link_transfer(
    name: str, approver: dict[str, Any], new: dict[str, Any], secret: LinkSecret
) -> dict[str, Any]:
    nonce = _fixed(f"{name} link nonce")[:24]
    ciphertext = seal_link_secret(
        secret,
        approver_kx=PrivateKey(bytes.fromhex(approver["kx_private_hex"])),
        new_device_kx_public=bytes.fromhex(new["kx_public_hex"]),
        nonce=nonce,
    )
    return {
        "name": name,
        "approver_device_id": approver["device_id"],
        "new_device_id": new["device_id"],
        "plaintext_utf8": secret.plaintext().decode("utf-8"),
        "nonce_hex": nonce.hex(),
        "ciphertext": ciphertext,
        "body": {"ciphertext": ciphertext, "sender_device_id": approver["device_id"]},
    }


def _backup_message(
    devices: list[dict[str, Any]], bob: dict[str, Any], backup: PrivateKey
) -> dict[str, Any]:
    """Bob's urgent message to Alice, wrapped for her two devices, his and her backup key."""
    payload = json.dumps(
        {"type": "text", "body": "Before your new phone — still here ✓", "sent_at": 1795000789},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    recipients = {d["device_id"]: bytes.fromhex(d["kx_public_hex"]) for d in devices[:2]}
    recipients[bob["device_id"]] = bytes.fromhex(bob["kx_public_hex"])
    recipients[BACKUP_ID] = bytes(backup.public_key)
    box_nonces = {device: _fixed(f"message box nonce {device}")[:24] for device in recipients}
    content_key, nonce = _fixed("message content key"), _fixed("message nonce")[:24]
    message_id = "9b2d51a4-6c1e-4f55-8a3d-2e7f0c4b5a61"
    envelope = seal(
        payload,
        conversation_id=CONVERSATION_ID,
        message_id=message_id,
        sender_device_id=bob["device_id"],
        identity=SigningKey(bytes.fromhex(bob["identity_seed_hex"])),
        kx=PrivateKey(bytes.fromhex(bob["kx_private_hex"])),
        recipients=recipients,
        urgent=True,
        content_key=content_key,
        nonce=nonce,
        box_nonces=box_nonces,
    )
    return {
        "conversation_id": CONVERSATION_ID,
        "message_id": message_id,
        "sender_device_id": bob["device_id"],
        "backup_id": BACKUP_ID,
        "urgent": True,
        "payload_utf8": payload.decode("utf-8"),
        "payload_hex": payload.hex(),
        "content_key_hex": content_key.hex(),
        "nonce_hex": nonce.hex(),
        "box_nonces_hex": {device: value.hex() for device, value in sorted(box_nonces.items())},
        "aad_hex": build_aad(CONVERSATION_ID, message_id, bob["device_id"]).hex(),
        "backup_wrap_hex": envelope.keys[BACKUP_ID].hex(),
        "sig_input_hex": signature_input(CONVERSATION_ID, envelope).hex(),
        "wire": envelope.to_wire(),
    }


def build_vectors() -> dict[str, Any]:
    """Every vector as one JSON-ready object."""
    devices = [_device(device_id) for device_id in DEVICES]
    bob = _device(COUNTERPART)
    rks = [(label, _fixed(label)) for label in RECOVERY_LABELS] + list(EDGE_KEYS)
    recovery = [_recovery_key(name, rk) for name, rk in rks]
    backup = backup_keypair(_fixed(RECOVERY_LABELS[0]))
    backup_public = bytes(backup.public_key)
    secret = LinkSecret(backup_id=BACKUP_ID, backup_secret=bytes(backup))
    return {
        "format": "haven backup v1",
        "about": (
            "Vectors for docs/history.md. *_hex values are lowercase hex; 'ciphertext' and "
            "'wire' use canonical base64url without padding. Recovery key text: base58 "
            "(Bitcoin alphabet) of 0x48 0x01 || rk || XOR parity, in groups of 4. seed = "
            "HKDF-SHA256(rk, salt = 32 zero bytes, info = 'haven/backup/v1', L = 32); the backup "
            "key pair is crypto_box_seed_keypair(seed). Ed25519 keys are built from "
            "identity_seed_hex; kx_private_hex is the raw X25519 scalar. The backup signatures, "
            "link transfers and the message use the first recovery key ('rk one'); the message "
            "opens with backup_secret and the sender's kx public key, exactly like a device's "
            "key box. Link ciphertext = nonce(24) || MAC(16) || crypto_box(plaintext)."
        ),
        "account_id": ACCOUNT_ID,
        "handle": HANDLE,
        "devices": devices,
        "counterpart_device": bob,
        "recovery_keys": recovery,
        "invalid_recovery_keys": _invalid_keys(recovery[0]["text"]),
        "backup_signatures": _signatures(devices, backup_public),
        "link_codes": _link_codes(devices),
        "link_transfers": [
            _link_transfer("with backup", devices[0], devices[2], secret),
            _link_transfer(
                "without backup",
                devices[1],
                devices[2],
                LinkSecret(backup_id=None, backup_secret=None),
            ),
        ],
        "backup_message": _backup_message(devices, bob, backup),
    }


def render() -> str:
    """The exact file contents, so the test can compare them to the committed artifact."""
    return json.dumps(build_vectors(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Rewrite the committed vector file."""
    OUTPUT.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
