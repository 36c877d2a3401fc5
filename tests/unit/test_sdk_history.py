"""The SDK's rules for history on a new device that need no server: when a sender may wrap for
a backup key (docs/history.md, the trust rule), how listings keep backup entries apart from
devices, and the calm events for password resets, device expiry and links."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from haven_client.backupkeys import UntrustedBackup, trusted_backup
from haven_client.directory import Directory
from haven_client.historyevents import account_notice, device_expiring, link_offered
from haven_client.keystore import KdfParams, Keystore
from haven_client.keywatch import KeyWatch
from haven_client.models import AccountDevices, BackupEntry, Me
from haven_crypto.backup import sign_backup_key
from haven_crypto.crypto import b64e, sign_kx

HANDLE = "Sam"


def _device(device_id: str, identity: SigningKey) -> dict[str, Any]:
    kx = PrivateKey.generate()
    return {
        "device_id": device_id,
        "kind": "device",
        "identity_key": b64e(bytes(identity.verify_key)),
        "kx_key": b64e(bytes(kx.public_key)),
        "kx_signature": b64e(sign_kx(identity, HANDLE, bytes(kx.public_key))),
    }


def _backup(signers: dict[str, SigningKey], handle: str = HANDLE) -> dict[str, Any]:
    kx_key = bytes(PrivateKey.generate().public_key)
    return {
        "device_id": "bkp_1",
        "kind": "backup",
        "kx_key": b64e(kx_key),
        "signatures": {d: b64e(sign_backup_key(k, handle, kx_key)) for d, k in signers.items()},
    }


class _Api:
    def __init__(self, listing: dict[str, Any]) -> None:
        self.listing = listing

    async def account_devices(self, account_id: str) -> AccountDevices:
        return AccountDevices.model_validate(self.listing)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Keystore]:
    opened = await Keystore.create(tmp_path / "k.keystore", "pass phrase", KdfParams.minimal())
    yield opened
    opened.close()


def _directory(store: Keystore, devices: list[dict[str, Any]]) -> Directory:
    api: Any = _Api({"account_id": "acc_sam", "devices": devices})
    return Directory(api, KeyWatch(store, lambda _: None))


async def test_a_backup_signed_by_a_listed_device_is_a_recipient(store: Keystore) -> None:
    phone = SigningKey.generate()
    entry = _backup({"dev_phone": phone})
    directory = _directory(store, [_device("dev_phone", phone), entry])

    devices = await directory.active_devices("acc_sam", HANDLE)
    recipient = await directory.backup_recipient("acc_sam", HANDLE)

    assert [d.device_id for d in devices] == ["dev_phone"]  # never a device without keys
    assert recipient is not None and recipient.backup_id == "bkp_1"
    assert b64e(recipient.kx_key) == entry["kx_key"]


@pytest.mark.parametrize(
    "case", ["unsigned", "signed by a device not listed", "signed for another handle", "forged"]
)
async def test_an_untrusted_backup_stops_the_send_with_a_calm_reason(
    store: Keystore, case: str
) -> None:
    phone, stranger = SigningKey.generate(), SigningKey.generate()
    entry = {
        "unsigned": _backup({}),
        "signed by a device not listed": _backup({"dev_gone": stranger}),
        "signed for another handle": _backup({"dev_phone": phone}, handle="kim"),
        "forged": _backup({"dev_phone": stranger}),
    }[case]
    directory = _directory(store, [_device("dev_phone", phone), entry])

    with pytest.raises(UntrustedBackup) as refused:
        await directory.backup_recipient("acc_sam", HANDLE)

    assert str(refused.value).startswith("Sam's backup key is not signed by any of their devices")
    assert refused.value.device_id == "bkp_1"
    # Receiving is untouched: the listing's devices are still trusted.
    assert [d.device_id for d in await directory.active_devices("acc_sam", HANDLE)] == ["dev_phone"]


def test_no_backup_and_two_backups() -> None:
    assert trusted_backup([], HANDLE, {}) is None
    phone = SigningKey.generate()
    one = BackupEntry.model_validate(_backup({"dev_phone": phone}))
    with pytest.raises(UntrustedBackup):
        trusted_backup([one, one], HANDLE, {"dev_phone": bytes(phone.verify_key)})


def test_own_listing_keeps_the_backup_out_of_devices_and_dumps() -> None:
    phone = SigningKey.generate()
    me = Me.model_validate(
        {
            "account_id": "acc_sam",
            "handle": "sam",
            "role": "client",
            "devices": [_device("dev_phone", phone), _backup({"dev_phone": phone})],
        }
    )
    assert [d.device_id for d in me.devices] == ["dev_phone"]
    assert [b.device_id for b in me.backups] == ["bkp_1"]
    assert "backups" not in me.model_dump(mode="json", exclude={"devices"})


def test_frames_become_calm_events() -> None:
    own = account_notice(
        {"type": "account", "event": "password_reset", "account_id": "acc_sam"}, "acc_sam"
    )
    assert own.own and own.notice.startswith("Your password was changed")
    other = account_notice(
        {"type": "account", "event": "password_reset", "account_id": "acc_kim"}, "acc_sam", "Kim"
    )
    assert not other.own and other.notice.startswith("Kim set a new password")
    expiring = device_expiring(
        {"type": "device_expiring", "device_id": "dev_1", "expires_at": "2027-03-01T09:00:00Z"}
    )
    assert expiring.notice.startswith("This device will be signed out on 1 March 2027")
    link = link_offered(
        {"type": "link", "link_id": "l1", "sender_device_id": "dev_2", "ciphertext": "x"}
    )
    assert (link.link_id, link.sender_device_id) == ("l1", "dev_2")


def test_chat_prints_the_notices() -> None:
    from haven_client.cli.render import describe

    events = [
        account_notice({"event": "password_reset", "account_id": "acc_sam"}, "acc_sam"),
        device_expiring({"device_id": "dev_1", "expires_at": "2027-03-01T09:00:00Z"}),
        link_offered({"link_id": "l1", "sender_device_id": "dev_2"}),
    ]
    lines = [str(describe(None, event)) for event in events]  # type: ignore[arg-type]
    assert lines == [f"· {event.notice}" for event in events]
