"""haven_client against a lying gateway: a sender device counts only if a listing vouched for it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from haven_client import (
    ConnectionChanged,
    Event,
    InvalidMessage,
    KeyChanged,
    Keystore,
    ReceivedMessage,
)
from haven_crypto.crypto import b64e
from tests.sdk_fakes.harness import PASSPHRASE, Pair, coach_and_client, collect, new_client
from tests.sdk_fakes.hostile import forge_device, plant_message, swap_identity
from tests.sdk_fakes.state import now


async def _verify(pair: Pair) -> None:
    number = await pair.client.safety_number(pair.conversation_id)
    pair.client.mark_verified(pair.conversation_id, number)


async def _old_message_from_a_revoked_device_never_listed(pair: Pair) -> Event:
    """The server plants a message sent an hour before the device it names was revoked, a
    device no listing ever showed; what history makes of it."""
    state = pair.fake.state
    revoked_at = now()
    device, keys = forge_device(state, pair.coach_account_id, revoked_at=revoked_at)
    plant_message(
        state, pair.conversation_id, device, keys, "old", server_ts=revoked_at - timedelta(hours=1)
    )
    (event,), _ = await pair.client.history(pair.conversation_id, after_seq=0)
    return event


@pytest.mark.parametrize(
    "revoked_in", [None, timedelta(days=1)], ids=["revoked_at_null", "revoked_at_in_the_future"]
)
async def test_message_from_a_device_missing_from_every_listing_is_refused_for_a_verified_contact(
    tmp_path: Path, revoked_in: timedelta | None
) -> None:
    async with coach_and_client(tmp_path) as pair:
        await _verify(pair)
        revoked_at = None if revoked_in is None else now() + revoked_in
        state = pair.fake.state
        device, keys = forge_device(state, pair.coach_account_id, revoked_at=revoked_at)
        planted = plant_message(state, pair.conversation_id, device, keys, "forged by the server")

        (event,), _ = await pair.client.history(pair.conversation_id, after_seq=0)

        assert isinstance(event, InvalidMessage), "an unlisted device must never speak as the coach"
        assert (event.message_id, event.field) == (planted.message_id, "sender_device_id")
        assert "listing" in event.reason
        assert pair.client.is_verified(pair.conversation_id)  # the safety number never changed


async def test_pushed_message_from_an_unlisted_active_device_is_refused_for_an_unverified_contact(
    tmp_path: Path,
) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.client.connect()
        await collect(pair.client, 1, keep=lambda e: isinstance(e, ConnectionChanged))
        state = pair.fake.state
        device, keys = forge_device(state, pair.coach_account_id)
        planted = plant_message(state, pair.conversation_id, device, keys, "forged by the server")
        frame = {"type": "message", "message": planted.item()}
        await pair.fake.hub.push(pair.client.store.state.device_id or "", frame)

        (event,) = await collect(
            pair.client, 1, keep=lambda e: isinstance(e, ReceivedMessage | InvalidMessage)
        )

        assert isinstance(event, InvalidMessage)
        assert (event.message_id, event.field) == (planted.message_id, "sender_device_id")


async def test_message_from_a_revoked_device_never_listed_is_refused_for_a_verified_contact(
    tmp_path: Path,
) -> None:
    async with coach_and_client(tmp_path) as pair:
        await _verify(pair)
        event = await _old_message_from_a_revoked_device_never_listed(pair)

        assert isinstance(event, InvalidMessage)
        assert event.field == "sender_device_id"


async def test_message_from_a_revoked_device_never_listed_is_marked_unlisted_when_unverified(
    tmp_path: Path,
) -> None:
    async with coach_and_client(tmp_path) as pair:
        event = await _old_message_from_a_revoked_device_never_listed(pair)

        assert isinstance(event, ReceivedMessage)
        assert event.trust == "unlisted"


async def test_received_messages_carry_the_trust_of_their_sender(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.coach.send_text(pair.conversation_id, "before verifying")
        (before,), _ = await pair.client.history(pair.conversation_id, after_seq=0)
        await _verify(pair)
        (after,), _ = await pair.client.history(pair.conversation_id, after_seq=0)
        tablet = await pair.another_device("coach", "coach-tablet")  # the verified set changes
        try:
            await tablet.send_text(pair.conversation_id, "from the new tablet")
            events, _ = await pair.client.history(pair.conversation_id, after_seq=0)
        finally:
            await tablet.close()
        (changed,) = await collect(pair.client, 1, keep=lambda e: isinstance(e, KeyChanged))

        assert isinstance(before, ReceivedMessage)
        assert isinstance(after, ReceivedMessage)
        assert isinstance(events[-1], ReceivedMessage)
        trusts = (before.trust, after.trust, events[-1].trust)
        assert trusts == ("unverified", "verified", "key_changed")
        assert isinstance(changed, KeyChanged)
        assert changed.requires_acknowledgement


async def test_device_seen_in_a_listing_stays_trusted_for_messages_before_its_revocation(
    tmp_path: Path,
) -> None:
    async with coach_and_client(tmp_path) as pair:
        old_phone = await pair.another_device("client", "old-phone")
        try:
            await old_phone.send_text(pair.conversation_id, "from the old phone")
        finally:
            await old_phone.close()
        (seen,), _ = await pair.coach.history(pair.conversation_id, after_seq=0)
        await pair.client.revoke_device(old_phone.store.state.device_id or "")
        await pair.coach.close()  # what survives is the keystore's record of the listing
        restarted = new_client(
            pair.fake, await Keystore.open(tmp_path / "coach.keystore", PASSPHRASE)
        )
        try:
            await restarted.resume()
            (again,), _ = await restarted.history(pair.conversation_id, after_seq=0)
        finally:
            await restarted.close()

        assert isinstance(seen, ReceivedMessage)
        assert isinstance(again, ReceivedMessage)
        assert again.trust == "unverified"


async def test_message_signed_by_a_swapped_identity_key_is_refused_and_the_known_key_kept(
    tmp_path: Path,
) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.client.send_text(pair.conversation_id, "hello")  # the client lists the coach
        state = pair.fake.state
        coach_device = state.devices[pair.coach.store.state.device_id or ""]
        known = b64e(coach_device.identity_key)
        impostor = swap_identity(state, coach_device.device_id)
        planted = plant_message(state, pair.conversation_id, coach_device, impostor, "it's me")

        events, _ = await pair.client.history(pair.conversation_id, after_seq=0)
        await pair.client.account_devices(pair.coach_account_id)  # a listing shows the new key
        again, _ = await pair.client.history(pair.conversation_id, after_seq=0)
        (changed,) = await collect(pair.client, 1, keep=lambda e: isinstance(e, KeyChanged))

        assert [type(e) for e in events] == [ReceivedMessage, InvalidMessage]
        assert (events[1].message_id, events[1].field) == (planted.message_id, "sender_device_id")
        assert isinstance(again[1], InvalidMessage)
        assert isinstance(changed, KeyChanged)
        assert changed.reason == "identity_key_changed"
        assert changed.device_id == coach_device.device_id
        assert changed.requires_acknowledgement
        pinned = pair.client.store.state.listed_devices[pair.coach_account_id]
        assert pinned[coach_device.device_id] == known

        pair.client.acknowledge_key_change(pair.coach_account_id)
        accepted, _ = await pair.client.history(pair.conversation_id, after_seq=0)
        assert isinstance(accepted[1], ReceivedMessage)
        assert accepted[1].trust == "unverified"
