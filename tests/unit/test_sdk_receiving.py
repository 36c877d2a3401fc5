"""haven_client receiving: every receiver check, dedupe, sync after drops, revoked senders."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from haven_client import (
    ConnectionChanged,
    InvalidMessage,
    Keystore,
    ReceivedMessage,
)
from haven_crypto.crypto import b64d, b64e
from haven_crypto.envelope import seal
from tests.sdk_fakes.harness import (
    PASSPHRASE,
    coach_and_client,
    collect,
    new_client,
    next_event,
    quiet,
)
from tests.sdk_fakes.state import FakeState, Stored, now


def _flip(text: str, index: int = 0) -> str:
    raw = bytearray(b64d(text))
    raw[index] ^= 0x01
    return b64e(bytes(raw))


def _flip_own_key(wire: dict[str, Any]) -> dict[str, Any]:
    keys = dict(wire["keys"])
    for device_id in keys:
        keys[device_id] = _flip(keys[device_id], 40)
    return {**wire, "keys": keys}


TAMPERINGS: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], str]] = {
    "ciphertext_byte": (lambda w: {**w, "ciphertext": _flip(w["ciphertext"], 3)}, "signature"),
    "commitment_byte": (lambda w: {**w, "commitment": _flip(w["commitment"])}, "signature"),
    "signature_byte": (lambda w: {**w, "signature": _flip(w["signature"], 5)}, "signature"),
    "key_boxes": (_flip_own_key, "signature"),
    "unknown_alg": (lambda w: {**w, "alg": "haven-v9"}, "alg"),
    "urgent_flag": (lambda w: {**w, "urgent": True}, "urgent"),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
async def test_envelope_tampered_by_the_server_surfaces_as_invalid_message(
    tmp_path: Path, tamper: tuple[Callable[[dict[str, Any]], dict[str, Any]], str]
) -> None:
    change, field = tamper
    async with coach_and_client(tmp_path) as pair:
        await pair.coach.connect()
        await next_event(pair.coach, ConnectionChanged)
        pair.fake.state.tamper_next = change
        message_id = await pair.client.send_text(pair.conversation_id, "secret")

        (event,) = await collect(
            pair.coach, 1, keep=lambda e: isinstance(e, ReceivedMessage | InvalidMessage)
        )

        assert isinstance(event, InvalidMessage), "a tampered message must never decrypt"
        assert (event.message_id, event.field) == (message_id, field)
        assert event.reason


async def test_message_replayed_into_another_conversation_is_invalid(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        other_coach = pair.fake.state.add_account("coach2", "pw", "coach", "Coach Two")
        other_id = await pair.client.accept_invite(
            pair.fake.invite("client", other_coach.account_id)
        )
        await pair.client.send_text(pair.conversation_id, "for the first coach only")
        original = pair.fake.state.messages[pair.conversation_id][0]
        replayed = dataclasses.replace(original, conversation_id=other_id, seq=1)
        pair.fake.state.messages[other_id].append(replayed)  # the server moves it across

        events, _ = await pair.client.history(other_id, after_seq=0)

        assert isinstance(events[0], InvalidMessage)
        assert events[0].field == "signature"
        assert events[0].conversation_id == other_id


async def test_duplicate_deliveries_are_handed_out_once(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.coach.connect()
        await next_event(pair.coach, ConnectionChanged)
        await pair.client.send_text(pair.conversation_id, "once")
        first = await next_event(pair.coach, ReceivedMessage)
        frame = {
            "type": "message",
            "message": pair.fake.state.messages[pair.conversation_id][0].item(),
        }
        coach_device = pair.coach.store.state.device_id or ""
        await pair.fake.hub.push(coach_device, frame)  # redelivered before the ack
        await pair.fake.hub.resync_all()  # and the server lost track of deliveries
        await pair.fake.hub.push(coach_device, frame)
        await pair.client.send_text(pair.conversation_id, "next")

        rest = await collect(pair.coach, 1, keep=lambda e: isinstance(e, ReceivedMessage))
        assert [first.body] + [e.body for e in rest if isinstance(e, ReceivedMessage)] == [
            "once",
            "next",
        ]
        assert (
            await quiet(pair.coach, seconds=0.2, keep=lambda e: isinstance(e, ReceivedMessage))
            == []
        )
        assert pair.fake.state.acks.count((coach_device, first.message_id)) >= 1


async def test_reconnect_syncs_what_was_missed_while_the_socket_was_down(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.coach.connect()
        await next_event(pair.coach, ConnectionChanged)
        coach_device = pair.coach.store.state.device_id or ""
        pair.fake.state.deliver = False  # the push is lost ...
        message_id = await pair.client.send_text(pair.conversation_id, "while you were away")
        await pair.fake.hub.drop_all(1012)  # ... and the gateway restarts
        pair.fake.state.deliver = True

        received = await next_event(pair.coach, ReceivedMessage)

        assert received.message_id == message_id
        assert pair.fake.state.ws_connects[coach_device] == 2


async def test_pushed_message_after_a_gap_triggers_a_sync_of_the_gap(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.coach.connect()
        await next_event(pair.coach, ConnectionChanged)
        pair.fake.state.deliver = False
        await pair.client.send_text(pair.conversation_id, "first, never pushed")
        pair.fake.state.deliver = True
        await pair.client.send_text(pair.conversation_id, "second, pushed")

        events = await collect(pair.coach, 2, keep=lambda e: isinstance(e, ReceivedMessage))
        received = sorted(
            (e for e in events if isinstance(e, ReceivedMessage)), key=lambda e: e.seq
        )
        assert [e.body for e in received] == ["first, never pushed", "second, pushed"]
        await quiet(pair.coach, seconds=0.05, keep=lambda e: False)
        assert pair.coach.store.last_seq(pair.conversation_id) == 2


async def test_restarted_device_syncs_only_what_is_new_since_its_keystore(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.client.send_text(pair.conversation_id, "one")
        await pair.coach.connect()
        assert (await next_event(pair.coach, ReceivedMessage)).body == "one"
        await pair.coach.close()  # commits what the app already received
        await pair.client.send_text(pair.conversation_id, "two")

        store = await Keystore.open(tmp_path / "coach.keystore", PASSPHRASE)
        assert store.last_seq(pair.conversation_id) == 1
        restarted = new_client(pair.fake, store)
        try:
            await restarted.resume()
            await restarted.connect()
            received = await next_event(restarted, ReceivedMessage)
            assert received.body == "two"
            late = await quiet(
                restarted, seconds=0.2, keep=lambda e: isinstance(e, ReceivedMessage)
            )
            assert late == []
        finally:
            await restarted.close()


async def test_message_from_a_revoked_device_sent_before_revocation_still_verifies(
    tmp_path: Path,
) -> None:
    async with coach_and_client(tmp_path) as pair:
        old_phone = await pair.another_device("client", "old-phone")
        try:
            await old_phone.send_text(pair.conversation_id, "from the old phone")
            old_device_id = old_phone.store.state.device_id or ""
            await pair.client.revoke_device(old_device_id)
            assert pair.fake.state.devices[old_device_id].revoked_at is not None

            events, _ = await pair.coach.history(pair.conversation_id, after_seq=0)

            assert isinstance(events[0], ReceivedMessage)
            assert events[0].body == "from the old phone"
            assert events[0].sender_device_id == old_device_id
        finally:
            await old_phone.close()


async def test_message_from_a_revoked_device_sent_after_revocation_is_invalid(
    tmp_path: Path,
) -> None:
    async with coach_and_client(tmp_path) as pair:
        old_phone = await pair.another_device("client", "old-phone")
        await old_phone.close()
        old_device_id = old_phone.store.state.device_id or ""
        keys = old_phone.store.device_keys()
        assert keys is not None
        recipients = {
            d.device_id: d.kx_key for d in pair.fake.state.devices.values() if d.revoked_at is None
        }
        await pair.client.revoke_device(old_device_id)
        message_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
        envelope = seal(
            json.dumps({"type": "text", "body": "stolen phone", "sent_at": 0}).encode(),
            conversation_id=pair.conversation_id,
            message_id=message_id,
            sender_device_id=old_device_id,
            identity=keys.identity,
            kx=keys.kx,
            recipients=recipients,
            urgent=False,
        )
        wire = envelope.to_wire()
        pair.fake.state.messages[pair.conversation_id].append(
            Stored(
                message_id,
                pair.conversation_id,
                1,
                pair.client_account_id,
                old_device_id,
                now(),
                False,
                wire,
                wire["signature"],
            )
        )

        events, _ = await pair.coach.history(pair.conversation_id, after_seq=0)

        assert isinstance(events[0], InvalidMessage)
        assert "revoked" in events[0].reason


async def test_socket_reauthenticates_before_the_access_token_expires(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path, FakeState(access_lifetime=1)) as pair:
        await pair.coach.connect()
        await next_event(pair.coach, ConnectionChanged)
        await pair.fake.state.wait_until(lambda: pair.fake.state.ws_auth_frames >= 2)
        coach_device = pair.coach.store.state.device_id or ""
        assert pair.fake.state.ws_expired_closes == 0
        assert pair.fake.state.ws_connects[coach_device] == 1


async def test_revoked_device_stops_reconnecting(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        tablet = await pair.another_device("coach", "tablet")
        try:
            await tablet.connect()
            await next_event(tablet, ConnectionChanged)
            await pair.coach.revoke_device(tablet.store.state.device_id or "")
            closed = await next_event(tablet, ConnectionChanged)
            assert dataclasses.astuple(closed)[:2] == ("closed", 4403)
        finally:
            await tablet.close()
