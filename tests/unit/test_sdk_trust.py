"""haven_client trust: safety numbers, verification, and loud key-change detection."""

from __future__ import annotations

from pathlib import Path

import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from haven_client import (
    ConnectionChanged,
    DevicesChanged,
    KeyChanged,
    KeyChangeUnacknowledged,
    Keystore,
    ReceivedMessage,
)
from haven_crypto.crypto import sign_kx
from tests.sdk_fakes.harness import PASSPHRASE, coach_and_client, new_client, next_event


async def test_both_sides_compute_the_same_safety_number(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        ours = await pair.client.safety_number(pair.conversation_id)
        theirs = await pair.coach.safety_number(pair.conversation_id)
        assert ours == theirs
        assert len(ours) == 60
        assert ours.isdigit()
        assert await pair.client.safety_number(pair.coach_account_id) == ours


async def test_marking_a_wrong_number_verified_is_refused(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        number = await pair.client.safety_number(pair.conversation_id)
        wrong = ("1" if number[0] != "1" else "2") + number[1:]
        with pytest.raises(ValueError, match="not the current safety number"):
            pair.client.mark_verified(pair.conversation_id, wrong)
        spaced = " ".join(number[i : i + 5] for i in range(0, 60, 5))
        pair.client.mark_verified(pair.conversation_id, spaced)
        assert pair.client.is_verified(pair.conversation_id)


async def test_substituted_identity_key_is_surfaced_and_blocks_sending(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.client.send_text(pair.conversation_id, "hello")  # the client sees the keys
        coach_device_id = pair.coach.store.state.device_id or ""
        device = pair.fake.state.devices[coach_device_id]
        attacker, attacker_kx = SigningKey.generate(), bytes(PrivateKey.generate().public_key)
        device.identity_key = bytes(attacker.verify_key)  # a hostile server swaps keys
        device.kx_key, device.kx_signature = attacker_kx, sign_kx(attacker, "coach", attacker_kx)
        await pair.client.close()
        restarted = new_client(
            pair.fake, await Keystore.open(tmp_path / "client.keystore", PASSPHRASE)
        )
        try:
            await restarted.resume()
            with pytest.raises(KeyChangeUnacknowledged) as caught:
                await restarted.send_text(pair.conversation_id, "are you there?")
            assert caught.value.account_ids == [pair.coach_account_id]
            changed = await next_event(restarted, KeyChanged)
            assert changed.reason == "identity_key_changed"
            assert changed.device_id == coach_device_id
            assert changed.requires_acknowledgement

            restarted.acknowledge_key_change(pair.coach_account_id)
            await restarted.send_text(pair.conversation_id, "sent after acknowledging")
        finally:
            await restarted.close()


async def test_change_of_a_verified_safety_number_holds_sending_until_acknowledged(
    tmp_path: Path,
) -> None:
    async with coach_and_client(tmp_path) as pair:
        number = await pair.client.safety_number(pair.conversation_id)
        pair.client.mark_verified(pair.conversation_id, number)
        tablet = await pair.another_device("coach", "coach-tablet")  # the device set changes
        try:
            with pytest.raises(KeyChangeUnacknowledged):
                await pair.client.send_text(pair.conversation_id, "hi")
            changed = await next_event(pair.client, KeyChanged)
            assert changed.reason == "safety_number_changed"
            assert changed.requires_acknowledgement
            assert changed.previous_safety_number == number
            assert changed.safety_number != number
            assert not pair.client.is_verified(pair.conversation_id)

            pair.client.acknowledge_key_change(pair.coach_account_id)
            await pair.client.send_text(pair.conversation_id, "hi again")
            events, _ = await tablet.history(pair.conversation_id, after_seq=0)
            assert [e.body for e in events if isinstance(e, ReceivedMessage)] == ["hi again"]
        finally:
            await tablet.close()


async def test_new_device_of_an_unverified_contact_is_announced_without_blocking(
    tmp_path: Path,
) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.client.safety_number(pair.conversation_id)
        await pair.client.connect()
        await next_event(pair.client, ConnectionChanged)
        tablet = await pair.another_device("coach", "coach-tablet")
        try:
            assert (
                await next_event(pair.client, DevicesChanged)
            ).account_id == pair.coach_account_id
            changed = await next_event(pair.client, KeyChanged)
            assert changed.reason == "safety_number_changed"
            assert not changed.requires_acknowledgement
            await pair.client.send_text(pair.conversation_id, "still fine")
        finally:
            await tablet.close()
