"""haven_client sending and receiving through the fake: two SDK clients talk end to end."""

from __future__ import annotations

from pathlib import Path

from haven_client import (
    ConnectionChanged,
    InvalidMessage,
    MessageDeleted,
    ReadReceipt,
    ReceivedMessage,
)
from tests.sdk_fakes.harness import coach_and_client, next_event, quiet


async def test_sent_text_is_decrypted_by_the_recipient(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.coach.connect()
        message_id = await pair.client.send_text(pair.conversation_id, "hello coach ✓")

        received = await next_event(pair.coach, ReceivedMessage)

        assert received.message_id == message_id
        assert received.body == "hello coach ✓"
        assert received.conversation_id == pair.conversation_id
        assert received.sender_account_id == pair.client_account_id
        assert not received.outgoing
        assert isinstance(received.sent_at, int)
        await quiet(pair.coach, seconds=0.1, keep=lambda e: False)  # the app asks for more:
        coach_device = pair.coach.store.state.device_id  # only now is the message committed
        await pair.fake.state.wait_until(lambda: (coach_device, message_id) in pair.fake.state.acks)
        assert pair.coach.store.last_seq(pair.conversation_id) == received.seq


async def test_device_mismatch_is_recovered_without_the_app_noticing(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.client.send_text(pair.conversation_id, "first")  # caches the coach's devices
        tablet = await pair.another_device("coach", "coach-tablet")
        try:
            message_id = await pair.client.send_text(pair.conversation_id, "second")

            assert pair.fake.state.mismatches == 1
            stored = pair.fake.state.messages[pair.conversation_id][-1]
            assert stored.message_id == message_id
            assert tablet.store.state.device_id in (stored.envelope or {})["keys"]
            events, _ = await tablet.history(pair.conversation_id, after_seq=0)
            older, newer = events
            assert isinstance(older, InvalidMessage)  # shown as unreadable, never skipped
            assert older.predates_device
            assert "before this device was added" in older.reason
            assert isinstance(newer, ReceivedMessage)
            assert newer.body == "second"
        finally:
            await tablet.close()


async def test_send_over_the_websocket_frame(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.client.connect()
        await pair.coach.connect()
        await next_event(pair.client, ConnectionChanged)
        assert pair.client.connected
        before = len(pair.fake.state.messages[pair.conversation_id])
        message_id = await pair.client.send_text(
            pair.conversation_id, "over the socket", via_websocket=True
        )
        assert len(pair.fake.state.messages[pair.conversation_id]) == before + 1
        received = await next_event(pair.coach, ReceivedMessage)
        assert (received.message_id, received.body) == (message_id, "over the socket")


async def test_urgent_send_returns_and_caches_crisis_resources(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        pair.client.store.state.crisis_resources = []
        receipt = await pair.client.send(
            pair.conversation_id, {"type": "text", "body": "I need help", "sent_at": 0}, True
        )
        assert [r.contact for r in receipt.crisis_resources] == ["988"]
        assert [r.contact for r in await pair.client.crisis_resources()] == ["988"]
        events, _ = await pair.coach.history(pair.conversation_id, after_seq=0)
        assert isinstance(events[0], ReceivedMessage)
        assert events[0].urgent


async def test_history_pages_forwards_and_backwards(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        for n in range(5):
            await pair.client.send_text(pair.conversation_id, f"m{n}")
        forward, more = await pair.coach.history(pair.conversation_id, after_seq=1, limit=2)
        assert [e.body for e in forward if isinstance(e, ReceivedMessage)] == ["m1", "m2"]
        assert more
        backward, more = await pair.coach.history(pair.conversation_id, before_seq=6, limit=10)
        assert [e.body for e in backward if isinstance(e, ReceivedMessage)] == [
            "m4", "m3", "m2", "m1", "m0",
        ]  # fmt: skip
        assert not more
        own, _ = await pair.client.history(pair.conversation_id, after_seq=0, limit=1)
        assert isinstance(own[0], ReceivedMessage)
        assert own[0].outgoing


async def test_deleted_message_surfaces_as_frame_and_as_tombstone(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        message_id = await pair.client.send_text(pair.conversation_id, "oops")
        await pair.coach.connect()
        assert (await next_event(pair.coach, ReceivedMessage)).message_id == message_id
        await pair.client.delete_message(pair.conversation_id, message_id)

        deleted = await next_event(pair.coach, MessageDeleted)
        assert (deleted.message_id, deleted.seq) == (message_id, 1)
        events, _ = await pair.coach.history(pair.conversation_id, after_seq=0)
        assert events == [
            MessageDeleted(
                conversation_id=pair.conversation_id,
                message_id=message_id,
                seq=1,
                sender_account_id=pair.client_account_id,
            )
        ]


async def test_read_marker_reaches_the_counterpart(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.client.send_text(pair.conversation_id, "read me")
        await pair.client.connect()
        await next_event(pair.client, ConnectionChanged)
        await pair.coach.mark_read(pair.conversation_id, 1)
        receipt = await next_event(pair.client, ReadReceipt)
        assert (receipt.account_id, receipt.up_to_seq) == (pair.coach_account_id, 1)


async def test_old_messages_still_open_after_the_recipient_rotates_its_kx_key(
    tmp_path: Path,
) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.client.send_text(pair.conversation_id, "before rotation")
        await pair.coach.rotate_kx()
        await pair.client.send_text(pair.conversation_id, "after rotation")
        events, _ = await pair.coach.history(pair.conversation_id, after_seq=0)
        assert [e.body for e in events if isinstance(e, ReceivedMessage)] == [
            "before rotation",
            "after rotation",
        ]
        assert not [e for e in events if isinstance(e, InvalidMessage)]
