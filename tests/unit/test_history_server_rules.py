"""The small rules behind history on a new device (issue #22), server side: backup ids are told
apart from device ids by their shape alone; reset codes are 120 bits in a typable form read
loosely; the backup signature input is API.md's."""

from __future__ import annotations

import re

import nacl.signing

from haven_crypto import crypto
from services.gateway.model.records import new_id
from services.gateway.usecases.backup import backup_signature_input
from services.gateway.usecases.resets import ALPHABET, new_code, normalized
from shared.recipients import device_recipients, is_backup_id, new_backup_id


def test_a_backup_id_is_never_mistaken_for_a_device_id() -> None:
    backups = [new_backup_id() for _ in range(200)]
    devices = [new_id() for _ in range(2000)] + ["backup-short", "backup-" + "x" * 17]
    assert all(is_backup_id(b) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", b) for b in backups)
    assert not any(is_backup_id(d) for d in devices)
    assert device_recipients([devices[0], backups[0], devices[1]]) == devices[:2]


def test_reset_codes_carry_120_bits_and_are_read_loosely() -> None:
    codes = {new_code() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        assert re.fullmatch(rf"[{ALPHABET}]{{4}}(-[{ALPHABET}]{{4}}){{5}}", code)
        assert normalized(code) == code
        typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
        assert normalized(f"  {typed} ") == code
    assert len(ALPHABET) == 32 and 24 * 5 == 120
    assert normalized("ABCD-EFGH") != normalized("ABCD-EFGX")


def test_the_backup_signature_input_is_api_md_s() -> None:
    kx = bytes(range(32))
    assert backup_signature_input("Sam", kx) == b"haven-backup-v1\x00sam\x00" + kx
    identity = nacl.signing.SigningKey(bytes(32))
    signature = crypto.sign_detached(identity, backup_signature_input("sam", kx))
    public = bytes(identity.verify_key)
    assert crypto.verify_detached(public, backup_signature_input("SAM", kx), signature)
    assert not crypto.verify_detached(public, backup_signature_input("sam2", kx), signature)
