"""Your history follows you (issue #22), through the running services the way a companion app
uses the SDK: a client turns backup on, messages flow (urgent ones, ones sent while no device
of the client was online), and a brand-new device opens all of them with the recovery key.
A tampered backup wrap is a hard failure and a wrong recovery key is refused calmly; a
password reset and a device nearing expiry are told calmly. Linking: test_sdk_history_linking.py."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from pathlib import Path

import pytest

from haven_client import Keystore
from haven_client.backup import NoBackup, RecoveryKeyTypo, WrongRecoveryKey
from haven_client.events import InvalidMessage, ReceivedMessage
from haven_client.historyevents import AccountNotice, DeviceExpiring
from haven_crypto.backup import encode_recovery_key, generate_recovery_key
from haven_crypto.crypto import box_wrap, random_bytes, sign_detached
from haven_crypto.envelope import seal, signature_input
from tests.support.sdk import PASSPHRASE, SdkDevice
from tests.support.sdk_history import BEFORE, World, exchange, stored, world
from tools.api import Api, Session

SHARED_STACK: dict[str, str] = {"HAVEN_DEVICES_CHANGED_WINDOW_SECONDS": "0"}
__all__ = ["world"]  # the fixture (tests/support/sdk_history.py)


async def test_a_brand_new_device_restores_every_message_with_the_recovery_key(
    world: World,
) -> None:
    rk_text, info = await world.client.client.backup.enable()
    assert len(rk_text.replace(" ", "")) >= 47
    assert (await world.client.client.backup.status()).kept_here
    await exchange(world)
    raw = await world.coach.client.api.history(world.cid, after_seq=0, limit=100)
    assert len(raw.messages) == 5
    assert all(info.backup_id in (m.envelope or {})["keys"] for m in raw.messages)

    new = await world.new_device("Sam's new phone")
    before, _ = await new.client.history(world.cid, after_seq=0, limit=100)
    assert [e.predates_device for e in before if isinstance(e, InvalidMessage)] == [True] * 5

    with pytest.raises(RecoveryKeyTypo) as typo:
        await new.client.backup.restore(rk_text[:-1] + ("2" if rk_text[-1] != "2" else "3"))
    assert "typo" in str(typo.value)
    with pytest.raises(WrongRecoveryKey) as wrong:
        await new.client.backup.restore(encode_recovery_key(generate_recovery_key()))
    assert "nothing was opened or kept" in str(wrong.value)
    assert new.client.store.state.restored_keys == {} and new.client.store.state.backup_keys == {}

    report = await new.client.backup.restore(rk_text)

    assert report.failed == [] and report.kept_backup_key is False
    assert [m.body for m in report.opened] == BEFORE
    assert [m.urgent for m in report.opened] == [False, False, True, False, False]
    assert {m.sender_device_id for m in report.opened} == {
        world.coach.client.store.state.device_id,
        world.client.client.store.state.device_id,
    }
    assert all(m.trust in ("unverified", "verified") for m in report.opened)
    assert new.client.store.state.backup_keys == {}  # nothing of the recovery key is kept
    vouched = await new.client.history_api.backup()  # the new device now signs the key too
    assert vouched is not None and vouched.kx_key == info.kx_key
    assert set(vouched.signatures) == {
        world.client.client.store.state.device_id,
        new.client.store.state.device_id,
    }
    assert info.backup_id in vouched.earlier_backup_ids

    # Readable again later, also from a new process on this keystore, without the key.
    path = new.client.store.path
    await new.close()
    world.extra.remove(new)
    again = await _reopen(world, path)
    page, _ = await again.client.history(world.cid, after_seq=0, limit=100)
    assert [e.body for e in page if isinstance(e, ReceivedMessage)] == BEFORE
    assert (await again.client.backup.status()).kept_here is False

    # New messages reach the new device directly.
    await world.coach.client.send_text(world.cid, "Good to see your new phone.")
    page = await stored(again, world.cid, 6)
    assert isinstance(page[-1], ReceivedMessage) and page[-1].body == "Good to see your new phone."


async def _reopen(world: World, path: Path) -> SdkDevice:
    from haven_client import HavenClient

    store = await Keystore.open(path, PASSPHRASE)
    device = SdkDevice("reopened", HavenClient(world.url, store))
    world.extra.append(device)
    await device.client.resume()
    return device


async def test_without_a_backup_restore_is_refused_and_senders_wrap_for_devices_only(
    world: World,
) -> None:
    await world.coach.client.send_text(world.cid, "hello")
    new = await world.new_device("Sam's tablet")
    with pytest.raises(NoBackup):
        await new.client.backup.restore(encode_recovery_key(generate_recovery_key()))
    assert (await new.client.backup.status()).on is False


async def test_a_tampered_backup_wrap_is_a_hard_failure(world: World) -> None:
    rk_text, info = await world.client.client.backup.enable()
    await world.coach.client.send_text(world.cid, "An honest message.")
    await _forged(world, info.backup_id, "wrong key inside", wrap="other_key")
    await _forged(world, info.backup_id, "garbage wrap", wrap="garbage")
    await stored(world.coach, world.cid, 3)

    new = await world.new_device("Sam's new phone")
    report = await new.client.backup.restore(rk_text)

    assert [m.body for m in report.opened] == ["An honest message."]
    fields = sorted(f.field or "" for f in report.failed)
    assert fields == ["commitment", "keys"], report.failed
    assert all(not f.predates_device for f in report.failed)  # shown as unverifiable, not text
    kept = new.client.store.state.restored_keys[world.cid]
    assert {f.message_id for f in report.failed}.isdisjoint(kept)
    page, _ = await new.client.history(world.cid, after_seq=0, limit=10)
    assert [type(e).__name__ for e in page] == [
        "ReceivedMessage",
        "InvalidMessage",
        "InvalidMessage",
    ]


async def _forged(world: World, backup_id: str, text: str, *, wrap: str) -> None:
    """The coach's own device signs an envelope whose backup box does not hold the message's
    key: the gateway accepts it (the signature is the coach's), a restore must not."""
    coach = world.coach.client
    keys = coach.store.device_keys()
    assert keys is not None and coach.store.state.device_id is not None
    recipients: dict[str, bytes] = {}
    conversation = coach.store.state.conversations[world.cid]
    for p in conversation.participants:
        for d in await coach.directory.active_devices(p.account_id, p.handle, fresh=True):
            recipients[d.device_id] = d.kx_key
        backup = await coach.directory.backup_recipient(p.account_id, p.handle)
        if backup is not None:
            recipients[backup.backup_id] = backup.kx_key
    message_id = str(uuid.uuid4())
    honest = seal(
        f'{{"type":"text","body":"{text}","sent_at":1}}'.encode(),
        conversation_id=world.cid,
        message_id=message_id,
        sender_device_id=coach.store.state.device_id,
        identity=keys.identity,
        kx=keys.kx,
        recipients=recipients,
        urgent=False,
    )
    box = (
        box_wrap(random_bytes(32), keys.kx, recipients[backup_id])
        if wrap == "other_key"
        else random_bytes(72)
    )
    unsigned = dataclasses.replace(honest, keys={**honest.keys, backup_id: box})
    signature = sign_detached(keys.identity, signature_input(world.cid, unsigned))
    envelope = dataclasses.replace(unsigned, signature=signature)
    await coach.api.post_message(world.cid, envelope.to_wire())


async def test_replacing_or_turning_off_the_key_changes_only_what_is_sent_from_then_on(
    world: World,
) -> None:
    old_key, first = await world.client.client.backup.enable()
    await world.coach.client.send_text(world.cid, "Under the first key.")
    new_key, second = await world.client.client.backup.enable(replace=True)
    assert second.backup_id != first.backup_id
    assert set(world.client.client.store.state.backup_keys) == {second.backup_id}
    await world.coach.client.send_text(world.cid, "Under the second key.")
    await world.client.client.backup.disable()
    assert world.client.client.store.state.backup_keys == {}
    assert (await world.client.client.backup.status()).on is False
    await world.coach.client.send_text(world.cid, "With backup off.")
    raw = (await world.coach.client.api.history(world.cid, after_seq=0, limit=10)).messages
    while len(raw) < 3:
        await asyncio.sleep(0.2)
        raw = (await world.coach.client.api.history(world.cid, after_seq=0, limit=10)).messages
    wrapped_for = [set((m.envelope or {})["keys"]) for m in raw]
    assert first.backup_id in wrapped_for[0] and second.backup_id not in wrapped_for[0]
    assert second.backup_id in wrapped_for[1] and first.backup_id not in wrapped_for[1]
    assert not ({first.backup_id, second.backup_id} & wrapped_for[2])

    # Turned on again with the second key's text: only what was wrapped for it opens.
    await world.client.client.backup.enable(recovery_key=_raw(new_key))
    new = await world.new_device("Sam's new phone")
    with pytest.raises(WrongRecoveryKey):
        await new.client.backup.restore(old_key)  # not the published key any more
    report = await new.client.backup.restore(new_key)
    assert [m.body for m in report.opened] == ["Under the second key."]
    assert [f.predates_device for f in report.failed] == [True, True]  # no key: not an attack


def _raw(text: str) -> bytes:
    from haven_crypto.backup import parse_recovery_key

    return parse_recovery_key(text)


async def test_a_password_reset_is_told_calmly_and_history_stays_readable(
    world: World, api: Api, operator: Session
) -> None:
    await world.client.client.backup.enable()
    await world.coach.client.send_text(world.cid, "Before the reset.")
    await stored(world.coach, world.cid, 1)
    account_id = world.client.client.store.state.account.account_id  # type: ignore[union-attr]
    issued = await api.call(
        "POST", f"/v1/admin/accounts/{account_id}/reset-code", token=operator.access_token
    )
    assert issued.status == 201, issued.body

    new_password = "a new password for Sam"
    await world.coach.client.history_api.reset_password(
        world.handle, issued.body["code"], new_password
    )  # unauthenticated: any device (here the coach's HTTP session) can send it

    await world.client.wait_for(lambda evs: any(isinstance(e, AccountNotice) for e in evs))
    [own] = [e for e in world.client.events if isinstance(e, AccountNotice)]
    assert own.own and own.event == "password_reset"
    assert own.notice.startswith("Your password was changed")
    await world.coach.wait_for(lambda evs: any(isinstance(e, AccountNotice) for e in evs))
    [theirs] = [e for e in world.coach.events if isinstance(e, AccountNotice)]
    assert not theirs.own and theirs.notice.startswith("Sam set a new password")

    # Same keystore, new password: the same device, its keys and history and backup kept.
    device_id = world.client.client.store.state.device_id
    await world.client.client.close_connection()
    await world.client.client.login(world.handle, new_password)
    assert world.client.client.store.state.device_id == device_id
    page, _ = await world.client.client.history(world.cid, after_seq=0, limit=10)
    assert [e.body for e in page if isinstance(e, ReceivedMessage)] == ["Before the reset."]
    assert (await world.client.client.backup.status()).kept_here


EXPIRY = {
    "HAVEN_DEVICE_EXPIRY_DAYS": str(6 / 86400),
    "HAVEN_DEVICE_EXPIRY_WARNING_DAYS": str(3 / 86400),
}


@pytest.mark.parametrize("stack_overrides", [EXPIRY])
async def test_a_device_nearing_expiry_hears_it_calmly(
    world: World, stack_overrides: dict[str, str]
) -> None:
    """The client's first device is not its most recently seen one, so it is warned."""
    await world.new_device("Sam's new phone")  # seen last: kept
    await world.client.wait_for(
        lambda evs: any(isinstance(e, DeviceExpiring) for e in evs), timeout=15
    )
    [warning] = [e for e in world.client.events if isinstance(e, DeviceExpiring)]
    assert warning.device_id == world.client.client.store.state.device_id
    assert warning.expires_at is not None
    assert warning.notice.startswith("This device will be signed out on ")
    assert warning.notice.endswith("Open Haven before then to keep it.")


async def test_after_revoking_the_lost_phone_the_recovery_key_still_restores(
    world: World,
) -> None:
    """The phone that turned backup on is lost and revoked first: its key is retired (no
    device vouches for it any more), yet everything wrapped for it opens with the key."""
    rk_text, _ = await world.client.client.backup.enable()
    await exchange(world)
    lost = world.client.client.store.state.device_id
    assert lost is not None
    new = await world.new_device("Sam's new phone")
    await new.client.revoke_device(lost)
    assert await new.client.history_api.backup() is None  # retired with its only signer

    with pytest.raises(NoBackup):
        await new.client.backup.restore(encode_recovery_key(generate_recovery_key()))
    assert new.client.store.state.restored_keys == {}
    report = await new.client.backup.restore(rk_text)

    assert [m.body for m in report.opened] == BEFORE and report.failed == []
    assert report.kept_backup_key is False
    assert await new.client.history_api.backup() is None  # not turned on again unasked
