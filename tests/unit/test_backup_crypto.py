"""Recovery key, backup key pair, link code and link transfer: the committed vectors
reproduce from their inputs, and every malformed input is refused (docs/history.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from haven_crypto.backup import (
    CALM_TYPO,
    RecoveryKeyError,
    backup_keypair,
    backup_seed,
    backup_signature_input,
    base58_decode,
    base58_encode,
    encode_recovery_key,
    generate_recovery_key,
    hkdf_sha256,
    parse_recovery_key,
    recovery_key_raw,
    sign_backup_key,
    verify_backup_signature,
)
from haven_crypto.crypto import EnvelopeError, b64d, b64e
from haven_crypto.envelope import Envelope, build_aad, open_envelope, signature_input
from haven_crypto.link import LinkError, LinkSecret, link_code, open_link_secret, seal_link_secret
from tests.vectors import make_backup_vectors

VECTORS = Path(__file__).parents[1] / "vectors" / "backup.json"
DATA: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))


def _device(device_id: str) -> dict[str, Any]:
    everyone = [*DATA["devices"], DATA["counterpart_device"]]
    return next(d for d in everyone if d["device_id"] == device_id)


def _kx(device: dict[str, Any]) -> PrivateKey:
    return PrivateKey(bytes.fromhex(device["kx_private_hex"]))


def test_committed_vectors_match_the_generator() -> None:
    assert VECTORS.read_text(encoding="utf-8") == make_backup_vectors.render()


# --- base58 and HKDF against published vectors ---------------------------------------------


@pytest.mark.parametrize(
    ("hex_bytes", "text"),
    [  # Bitcoin Core's base58_encode_decode.json
        ("", ""),
        ("61", "2g"),
        ("626262", "a3gV"),
        ("636363", "aPEr"),
        ("572e4794", "3EFU7m"),
        ("10c8511e", "Rt5zm"),
        ("00000000000000000000", "1111111111"),
        (
            "00eb15231dfceb60925886b67d065299925915aeb172c06647",
            "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L",
        ),
    ],
)
def test_base58_matches_bitcoin(hex_bytes: str, text: str) -> None:
    assert base58_encode(bytes.fromhex(hex_bytes)) == text
    assert base58_decode(text) == bytes.fromhex(hex_bytes)


def test_hkdf_matches_rfc5869_case_1() -> None:
    okm = hkdf_sha256(
        bytes.fromhex("0b" * 22),
        salt=bytes.fromhex("000102030405060708090a0b0c"),
        info=bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        length=42,
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_backup_seed_matches_an_independent_hkdf() -> None:
    for entry in DATA["recovery_keys"]:
        rk = bytes.fromhex(entry["rk_hex"])
        other = HKDF(algorithm=hashes.SHA256(), length=32, salt=bytes(32), info=b"haven/backup/v1")
        assert other.derive(rk).hex() == entry["seed_hex"] == backup_seed(rk).hex()


# --- recovery keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("entry", DATA["recovery_keys"], ids=lambda e: e["name"])
def test_recovery_key_vector(entry: dict[str, Any]) -> None:
    rk = bytes.fromhex(entry["rk_hex"])
    raw = bytes.fromhex(entry["raw_hex"])
    assert raw[:2] == b"\x48\x01" and raw[2:34] == rk and len(raw) == 35
    parity = 0
    for byte in raw[:34]:
        parity ^= byte
    assert raw[34] == parity
    assert recovery_key_raw(rk) == raw
    assert encode_recovery_key(rk) == entry["text"]
    groups = entry["text"].split(" ")
    assert [len(group) for group in groups] == [4] * 12  # the prefix fixes the length
    assert parse_recovery_key(entry["text"]) == rk
    pair = backup_keypair(rk)
    assert bytes(pair).hex() == entry["backup_secret_hex"]
    assert bytes(pair.public_key).hex() == entry["backup_public_hex"]
    assert PrivateKey.from_seed(bytes.fromhex(entry["seed_hex"])).public_key == pair.public_key


@pytest.mark.parametrize(
    "spelling",
    [
        lambda t: t.replace(" ", ""),
        lambda t: "  " + t.replace(" ", "\n") + "\n",
        lambda t: t.replace(" ", "\t  "),
    ],
    ids=["no spaces", "newlines", "tabs"],
)
def test_whitespace_is_ignored(spelling: Any) -> None:
    entry = DATA["recovery_keys"][0]
    assert parse_recovery_key(spelling(entry["text"])).hex() == entry["rk_hex"]


@pytest.mark.parametrize("bad", DATA["invalid_recovery_keys"], ids=lambda b: b["why"])
def test_invalid_recovery_keys_are_refused_calmly(bad: dict[str, str]) -> None:
    with pytest.raises(RecoveryKeyError) as caught:
        parse_recovery_key(bad["text"])
    assert str(caught.value) == CALM_TYPO
    assert "Traceback" not in str(caught.value)


def test_every_single_character_typo_is_caught_or_changes_nothing_silently() -> None:
    """Substituting any one character never yields a different key that parses: the parity
    and the prefix catch it (or the text decodes to the wrong length)."""
    rk = bytes.fromhex(DATA["recovery_keys"][1]["rk_hex"])
    compact = encode_recovery_key(rk).replace(" ", "")
    accepted_other = 0
    for position in range(len(compact)):
        for char in "123abcXYZ":
            if char == compact[position]:
                continue
            typo = compact[:position] + char + compact[position + 1 :]
            try:
                parsed = parse_recovery_key(typo)
            except RecoveryKeyError:
                continue
            accepted_other += parsed != rk
    # One parity byte lets 1 in 256 random corruptions through; a fixed key gives a fixed count.
    assert accepted_other <= 4


def test_generated_keys_round_trip() -> None:
    for _ in range(20):
        rk = generate_recovery_key()
        assert parse_recovery_key(encode_recovery_key(rk)) == rk


# --- signatures on the backup key ---------------------------------------------------------------


@pytest.mark.parametrize("entry", DATA["backup_signatures"], ids=lambda e: e["device_id"])
def test_backup_signature_vector(entry: dict[str, Any]) -> None:
    device = _device(entry["device_id"])
    identity = SigningKey(bytes.fromhex(device["identity_seed_hex"]))
    kx_key = bytes.fromhex(entry["kx_key_hex"])
    expected_input = b"haven-backup-v1\x00alice\x00" + kx_key
    assert backup_signature_input(entry["handle"], kx_key) == expected_input
    assert expected_input.hex() == entry["input_hex"]
    signature = sign_backup_key(identity, entry["handle"], kx_key)
    assert signature.hex() == entry["signature_hex"]
    public = bytes.fromhex(device["identity_public_hex"])
    assert verify_backup_signature(public, "ALICE", kx_key, signature)
    assert not verify_backup_signature(public, "bob", kx_key, signature)
    assert not verify_backup_signature(public, "alice", bytes(reversed(kx_key)), signature)
    other = bytes.fromhex(_device("dev_alice-new")["identity_public_hex"])
    assert not verify_backup_signature(other, "alice", kx_key, signature)
    assert not verify_backup_signature(public, "alice", kx_key[:31], signature)


# --- link codes and transfers -------------------------------------------------------------------


@pytest.mark.parametrize("entry", DATA["link_codes"], ids=lambda e: e["code"])
def test_link_code_vector(entry: dict[str, Any]) -> None:
    a = bytes.fromhex(entry["identity_key_a_hex"])
    b = bytes.fromhex(entry["identity_key_b_hex"])
    assert link_code(entry["account_id"], a, b) == entry["code"]
    assert link_code(entry["account_id"], b, a) == entry["code"]
    assert link_code("acc_other", a, b) != entry["code"]
    assert len(entry["code"]) == 14 and entry["code"].replace(" ", "").isdigit()


@pytest.mark.parametrize("entry", DATA["link_transfers"], ids=lambda e: e["name"])
def test_link_transfer_vector(entry: dict[str, Any]) -> None:
    approver, new = _device(entry["approver_device_id"]), _device(entry["new_device_id"])
    secret = LinkSecret.from_plaintext(entry["plaintext_utf8"].encode())
    assert secret.plaintext().decode() == entry["plaintext_utf8"]
    sealed = seal_link_secret(
        secret,
        approver_kx=_kx(approver),
        new_device_kx_public=bytes.fromhex(new["kx_public_hex"]),
        nonce=bytes.fromhex(entry["nonce_hex"]),
    )
    assert sealed == entry["ciphertext"] == entry["body"]["ciphertext"]
    assert b64d(sealed)[:24].hex() == entry["nonce_hex"]
    opened = open_link_secret(
        sealed, own_kx=_kx(new), approver_kx_public=bytes.fromhex(approver["kx_public_hex"])
    )
    assert opened == secret


def test_link_secret_carries_the_backup_secret_of_rk_one() -> None:
    entry = DATA["link_transfers"][0]
    body = json.loads(entry["plaintext_utf8"])
    assert list(body) == ["v", "backup_id", "backup_secret"]
    assert b64d(body["backup_secret"]).hex() == DATA["recovery_keys"][0]["backup_secret_hex"]
    none = DATA["link_transfers"][1]["plaintext_utf8"]
    assert none == '{"v":1,"backup_id":null,"backup_secret":null}'


def test_link_transfer_from_another_device_is_refused() -> None:
    entry = DATA["link_transfers"][0]
    new, impostor = _device(entry["new_device_id"]), _device("dev_alice-laptop")
    with pytest.raises(LinkError):
        open_link_secret(
            entry["ciphertext"],
            own_kx=_kx(new),
            approver_kx_public=bytes.fromhex(impostor["kx_public_hex"]),
        )
    tampered = bytearray(b64d(entry["ciphertext"]))
    tampered[-1] ^= 0x01
    approver = bytes.fromhex(_device(entry["approver_device_id"])["kx_public_hex"])
    with pytest.raises(LinkError):
        open_link_secret(b64e(bytes(tampered)), own_kx=_kx(new), approver_kx_public=approver)
    with pytest.raises(LinkError):
        open_link_secret(entry["ciphertext"] + "=", own_kx=_kx(new), approver_kx_public=approver)


@pytest.mark.parametrize(
    "plaintext",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"v":1,"backup_id":null}',
        b'{"v":2,"backup_id":null,"backup_secret":null}',
        b'{"v":true,"backup_id":null,"backup_secret":null}',
        b'{"v":1.0,"backup_id":null,"backup_secret":null}',
        b'{"v":1,"backup_id":"bkp_1","backup_secret":null}',
        b'{"v":1,"backup_id":null,"backup_secret":"' + b64e(bytes(32)).encode() + b'"}',
        b'{"v":1,"backup_id":"bkp_1","backup_secret":"' + b64e(bytes(31)).encode() + b'"}',
        b'{"v":1,"backup_id":"bkp 1","backup_secret":"' + b64e(bytes(32)).encode() + b'"}',
        b'{"v":1,"backup_id":7,"backup_secret":"' + b64e(bytes(32)).encode() + b'"}',
        b'{"v":1,"backup_id":"bkp_1","backup_secret":"' + b64e(bytes(32)).encode() + b'=="}',
        b'{"v":1,"backup_id":null,"backup_secret":null,"extra":1}',
    ],
)
def test_malformed_link_plaintexts_are_refused(plaintext: bytes) -> None:
    with pytest.raises(LinkError):
        LinkSecret.from_plaintext(plaintext)


# --- a message wrapped for the backup recipient --------------------------------------------------


def _backup_envelope() -> tuple[dict[str, Any], Envelope]:
    entry = DATA["backup_message"]
    return entry, Envelope.from_wire(entry["wire"])


def test_backup_wrap_opens_with_the_backup_secret_and_the_sender_kx_key() -> None:
    entry, envelope = _backup_envelope()
    sender = _device(entry["sender_device_id"])
    assert entry["backup_id"] in envelope.keys
    assert envelope.keys[entry["backup_id"]].hex() == entry["backup_wrap_hex"]
    assert envelope.urgent is True
    aad = build_aad(entry["conversation_id"], entry["message_id"], entry["sender_device_id"])
    assert aad.hex() == entry["aad_hex"]
    assert signature_input(entry["conversation_id"], envelope).hex() == entry["sig_input_hex"]
    backup_secret = PrivateKey(bytes.fromhex(DATA["recovery_keys"][0]["backup_secret_hex"]))
    plain = open_envelope(
        envelope,
        conversation_id=entry["conversation_id"],
        own_device_id=entry["backup_id"],
        own_kx=backup_secret,
        sender_identity_public=bytes.fromhex(sender["identity_public_hex"]),
        sender_kx_public=bytes.fromhex(sender["kx_public_hex"]),
    )
    assert plain.hex() == entry["payload_hex"]
    assert json.loads(plain)["body"] == "Before your new phone — still here ✓"


def _open_as_backup(envelope: Envelope, *, rk_index: int = 0, sender_kx: str | None = None) -> None:
    entry = DATA["backup_message"]
    sender = _device(entry["sender_device_id"])
    open_envelope(
        envelope,
        conversation_id=entry["conversation_id"],
        own_device_id=entry["backup_id"],
        own_kx=PrivateKey(bytes.fromhex(DATA["recovery_keys"][rk_index]["backup_secret_hex"])),
        sender_identity_public=bytes.fromhex(sender["identity_public_hex"]),
        sender_kx_public=bytes.fromhex(sender_kx or sender["kx_public_hex"]),
    )


def test_a_tampered_backup_wrap_is_a_hard_failure() -> None:
    entry, envelope = _backup_envelope()
    keys = dict(envelope.keys)
    wrap = bytearray(keys[entry["backup_id"]])
    wrap[30] ^= 0x01
    keys[entry["backup_id"]] = bytes(wrap)
    tampered = Envelope.from_wire({**entry["wire"], "keys": {k: b64e(v) for k, v in keys.items()}})
    with pytest.raises(EnvelopeError) as caught:
        _open_as_backup(tampered)
    assert caught.value.field == "signature"  # the keys block is signed: caught before opening


def test_the_wrong_backup_secret_or_sender_key_does_not_open() -> None:
    _, envelope = _backup_envelope()
    with pytest.raises(EnvelopeError) as caught:
        _open_as_backup(envelope, rk_index=1)
    assert caught.value.field == "keys"
    # Authenticated from the sender device: another device's kx key cannot have made it.
    with pytest.raises(EnvelopeError):
        _open_as_backup(envelope, sender_kx=_device("dev_alice-phone")["kx_public_hex"])
