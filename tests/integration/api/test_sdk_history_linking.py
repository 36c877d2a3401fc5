"""Your history follows you (issue #22) by linking, through the running services the way a
companion app uses the SDK: a new device approved from one that holds the backup key reads
the history, one approved without it is told where its history is, and only the account's
own devices can link."""

from __future__ import annotations

import pytest

from haven_client.events import ReceivedMessage
from haven_client.historyevents import LinkOffered
from haven_client.link import LinkRefused, NotOwnDevice
from haven_crypto.crypto import KxPrivateKey
from haven_crypto.link import LinkSecret, seal_link_secret
from tests.support.sdk import SdkDevice
from tests.support.sdk_history import BEFORE, World, exchange, stored, world

SHARED_STACK: dict[str, str] = {"HAVEN_DEVICES_CHANGED_WINDOW_SECONDS": "0"}
__all__ = ["world"]  # the fixture (tests/support/sdk_history.py)


async def test_a_second_device_approved_from_the_first_reads_the_history(world: World) -> None:
    await world.client.client.backup.enable()
    await exchange(world)
    old = world.client.client
    new = await world.new_device("Sam's new phone")
    new_id = new.client.store.state.device_id
    assert new_id is not None

    codes = await new.client.link.codes(await new.client.me())
    assert [(c.device_id, c.name) for c in codes] == [
        (old.store.state.device_id, "Sam's old phone")
    ]
    assert await old.link.code_for(new_id) == codes[0].code  # what the person compares
    new.listen()
    await new.connect()
    sent = await old.link.approve(new_id)
    assert sent.with_history
    await new.wait_for(lambda evs: any(isinstance(e, LinkOffered) for e in evs))  # live frame

    outcome = await new.client.link.wait(timeout=10, poll=0.2)
    assert outcome.with_history and outcome.sender_device_id == old.store.state.device_id
    assert await new.client.history_api.links() == []  # taken once
    page, _ = await new.client.history(world.cid, after_seq=0, limit=100)
    assert [e.body for e in page if isinstance(e, ReceivedMessage)] == BEFORE
    assert (await new.client.backup.status()).kept_here  # it can approve the next device


async def test_linking_without_a_backup_says_what_the_new_device_will_read(world: World) -> None:
    await world.coach.client.send_text(world.cid, "Before the new phone.")
    await stored(world.coach, world.cid, 1)
    new = await world.new_device("Sam's new phone")
    new_id = new.client.store.state.device_id
    assert new_id is not None
    sent = await world.client.client.link.approve(new_id)
    assert not sent.with_history
    outcome = await new.client.link.wait(timeout=10, poll=0.2)
    assert not outcome.with_history
    assert outcome.notice is not None and "will read new messages" in outcome.notice
    assert new.client.store.state.backup_keys == {}


async def test_only_the_accounts_own_devices_can_link(world: World) -> None:
    await world.client.client.backup.enable()
    new = await world.new_device("Sam's new phone")
    new_id = new.client.store.state.device_id
    coach_id = world.coach.client.store.state.device_id
    assert new_id is not None and coach_id is not None

    # Another account's device: refused before anything is sent, and the server says 404.
    with pytest.raises(NotOwnDevice):
        await world.client.client.link.approve(coach_id)
    coach_keys = world.coach.client.store.device_keys()
    assert coach_keys is not None
    boxed = seal_link_secret(
        LinkSecret(backup_id=None, backup_secret=None),
        approver_kx=coach_keys.kx,
        new_device_kx_public=bytes(_kx_of(new).public_key),
    )
    from haven_client.errors import NotFound

    with pytest.raises(NotFound):
        await world.coach.client.history_api.send_link(new_id, boxed, coach_id)

    # An own device sending a secret that is not the published backup key: refused, nothing kept.
    old = world.client.client
    old_keys = old.store.device_keys()
    assert old_keys is not None and old.store.state.device_id is not None
    info = await old.history_api.backup()
    assert info is not None
    forged = LinkSecret(backup_id=info.backup_id, backup_secret=bytes(KxPrivateKey.generate()))
    await old.history_api.send_link(
        new_id,
        seal_link_secret(
            forged, approver_kx=old_keys.kx, new_device_kx_public=bytes(_kx_of(new).public_key)
        ),
        old.store.state.device_id,
    )
    with pytest.raises(LinkRefused):
        await new.client.link.wait(timeout=10, poll=0.2)
    assert new.client.store.state.backup_keys == {}
    assert await new.client.history_api.links() == []


def _kx_of(device: SdkDevice) -> KxPrivateKey:
    keys = device.client.store.device_keys()
    assert keys is not None
    return keys.kx


async def test_a_device_without_the_backup_key_links_and_says_where_history_is(
    world: World,
) -> None:
    rk_text, _ = await world.client.client.backup.enable()
    second = await world.new_device("Sam's tablet")
    await second.client.backup.restore(rk_text)  # not kept: it cannot hand the key on
    third = await world.new_device("Sam's new phone")
    third_id = third.client.store.state.device_id
    assert third_id is not None

    sent = await second.client.link.approve(third_id)
    assert not sent.with_history and sent.notice is not None
    assert sent.notice.startswith("This device does not hold your backup key")
    outcome = await third.client.link.wait(timeout=10, poll=0.2)
    assert not outcome.with_history and outcome.notice is not None
    assert "Use your recovery key here" in outcome.notice


async def test_a_device_that_kept_the_key_after_restoring_can_link_the_next_one(
    world: World,
) -> None:
    rk_text, _ = await world.client.client.backup.enable()
    await exchange(world)
    tablet = await world.new_device("Sam's tablet")
    report = await tablet.client.backup.restore(rk_text, keep=True)
    assert report.kept_backup_key and (await tablet.client.backup.status()).kept_here
    assert tablet.client.store.state.backup_keys  # the backup's private half, never the text
    assert rk_text.replace(" ", "") not in tablet.client.store.state.model_dump_json()

    phone = await world.new_device("Sam's new phone")
    phone_id = phone.client.store.state.device_id
    assert phone_id is not None
    assert (await tablet.client.link.approve(phone_id)).with_history
    assert (await phone.client.link.wait(timeout=10, poll=0.2)).with_history
    page, _ = await phone.client.history(world.cid, after_seq=0, limit=100)
    assert [e.body for e in page if isinstance(e, ReceivedMessage)] == BEFORE
