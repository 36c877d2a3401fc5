"""haven_client.keystore: the encrypted device file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from haven_client import (
    DeviceKeys,
    KdfParams,
    Keystore,
    KeystoreError,
    KeystoreInUse,
    WrongPassphrase,
)
from haven_crypto.crypto import b64d, b64e

PASSPHRASE = "correct horse battery staple"


async def _store(path: Path) -> Keystore:
    return await Keystore.create(path, PASSPHRASE, KdfParams.minimal())


async def test_keystore_round_trips_keys_and_memory_through_the_encrypted_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "k.json"
    store = await _store(path)
    keys = DeviceKeys.generate()
    store.set_device_keys(keys)
    store.state.device_id = "dev_1"
    store.state.refresh_token = "refresh-secret"
    store.state.verified["acc_b"] = "1" * 60
    store.advance_seq("conv_1", 7)
    store.remember("conv_1", "3b241101-e2bb-4255-8caf-4136c566a962")
    store.save()

    store.close()
    reopened = await Keystore.open(path, PASSPHRASE)

    assert reopened.device_keys() == keys
    assert reopened.state.device_id == "dev_1"
    assert reopened.state.refresh_token == "refresh-secret"
    assert reopened.state.verified == {"acc_b": "1" * 60}
    assert reopened.last_seq("conv_1") == 7
    assert reopened.has_seen("conv_1", "3b241101-e2bb-4255-8caf-4136c566a962")
    assert not reopened.has_seen("conv_2", "3b241101-e2bb-4255-8caf-4136c566a962")


async def test_keystore_refuses_a_wrong_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    (await _store(path)).close()
    with pytest.raises(WrongPassphrase):
        await Keystore.open(path, "not the passphrase")


async def test_keystore_file_is_private_and_holds_no_secret_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    store = await _store(path)
    keys = DeviceKeys.generate()
    store.set_device_keys(keys)
    store.state.refresh_token = "refresh-secret"
    store.save()

    _assert_private_and_alone(path)
    raw = path.read_text()
    assert "refresh-secret" not in raw
    assert b64e(keys.identity_seed) not in raw
    header = json.loads(raw)
    assert header["kdf"]["alg"] == "argon2id"
    assert header["kdf"]["opslimit"] == KdfParams.minimal().opslimit
    assert len(b64d(header["kdf"]["salt"])) == 16


def _assert_private_and_alone(path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    leftovers = {p.name for p in path.parent.iterdir()} - {path.name, path.name + ".lock"}
    assert not leftovers  # no temp file left behind


async def test_keystore_detects_a_tampered_file(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    (await _store(path)).close()
    document = json.loads(path.read_text())
    box = bytearray(b64d(document["box"]))
    box[-1] ^= 1
    document["box"] = b64e(bytes(box))
    path.write_text(json.dumps(document))
    with pytest.raises(WrongPassphrase):
        await Keystore.open(path, PASSPHRASE)


async def test_keystore_is_held_by_one_owner_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    store = await _store(path)
    with pytest.raises(KeystoreInUse):
        await Keystore.open(path, PASSPHRASE)
    store.close()
    (await Keystore.open(path, PASSPHRASE)).close()


async def test_keystore_refuses_to_overwrite_or_open_a_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    await _store(path)
    with pytest.raises(KeystoreError):
        await Keystore.create(path, PASSPHRASE, KdfParams.minimal())
    other = tmp_path / "other.json"
    other.write_text('{"hello": "world"}')
    with pytest.raises(KeystoreError):
        await Keystore.open(other, PASSPHRASE)


async def test_keystore_keeps_old_kx_keys_after_rotation(tmp_path: Path) -> None:
    store = await _store(tmp_path / "k.json")
    keys = DeviceKeys.generate()
    store.set_device_keys(keys)
    rotated = keys.with_new_kx()
    store.set_device_keys(rotated)
    publics = [bytes(kx.public_key) for kx in store.all_kx()]
    assert publics == [rotated.kx_public, keys.kx_public]


async def test_passphrase_change_reencrypts_under_a_new_salt(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    store = await _store(path)
    salt = json.loads(path.read_text())["kdf"]["salt"]
    await store.change_passphrase("a brand new passphrase")
    assert json.loads(path.read_text())["kdf"]["salt"] != salt
    store.close()
    with pytest.raises(WrongPassphrase):
        await Keystore.open(path, PASSPHRASE)
    await Keystore.open(path, "a brand new passphrase")
