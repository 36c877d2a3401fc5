"""The messaging service's command side, against the real broker and store, run in-process."""

from __future__ import annotations

import asyncio
import json

import aio_pika

from shared.commands import BATCH_TYPE, shard_for
from shared.events import derive_event_id
from shared.metrics import BUS_PUBLISHED
from tests.support.messaging import (
    Harness,
    delete_command,
    publish_command,
    publish_raw,
    read_command,
    send_command,
)


async def test_a_sent_message_is_stored_once_with_a_seq_and_announced(harness: Harness) -> None:
    command = send_command("conv-a", correlation_id="req-1", recipients=("dev-z", "dev-b"))
    await publish_command(harness.bus, command)

    [event] = await harness.tap.count("message.stored", 1)
    doc = await harness.db.messages.find_one({"message_id": command.data.message_id})
    assert doc is not None
    assert doc["seq"] == event.data.seq == 1
    assert doc["envelope"] == command.data.envelope.model_dump()
    assert doc["recipient_device_ids"] == event.data.recipient_device_ids == ["dev-b", "dev-z"]
    # Delivered by messaging itself (services/messaging/delivery.py): the event carries no
    # ciphertext, and names the devices no gateway held (none here: both are owed a push).
    assert event.data.envelope is None
    assert event.data.unroutable_device_ids == ["dev-b", "dev-z"]
    assert doc["signature"] == command.data.envelope.signature
    assert doc["deleted"] is False
    assert (doc["sender_account_id"], doc["sender_device_id"]) == ("acct-client", "dev-client")
    assert event.event_id == derive_event_id("message.stored", f"conv-a:{command.data.message_id}")
    assert event.correlation_id == "req-1"
    assert event.data.server_ts == doc["server_ts"]


async def test_the_same_command_twice_stores_one_document_and_repeats_the_event(
    harness: Harness,
) -> None:
    first = send_command("conv-a")
    await publish_command(harness.bus, first)
    await harness.tap.count("message.stored", 1)
    await publish_command(harness.bus, send_command("conv-a"))  # takes seq 2
    await harness.tap.count("message.stored", 2)
    await publish_command(harness.bus, first)  # a redelivery, after a later message

    events = await harness.tap.count("message.stored", 3)
    repeats = [e for e in events if e.data.message_id == first.data.message_id]
    assert [e.data.seq for e in repeats] == [1, 1]
    assert repeats[0].model_dump() == repeats[1].model_dump()
    assert await harness.db.messages.count_documents({"conversation_id": "conv-a"}) == 2


async def test_duplicates_within_one_batch_are_stored_once(harness: Harness) -> None:
    command = send_command("conv-a")
    await asyncio.gather(*(publish_command(harness.bus, command) for _ in range(5)))

    after = send_command("conv-a")  # the same shard: handled once the five are done
    await publish_command(harness.bus, after)
    await harness.tap.wait_for(
        lambda tap: any(e.data.message_id == after.data.message_id for e in tap.events)
    )

    events = [
        e
        for e in harness.tap.of_type("message.stored")
        if e.data.message_id != after.data.message_id
    ]
    # Announced once per batch the copies fell into (copies in one batch share one announcement).
    assert 1 <= len(events) <= 5
    assert {(e.event_id, e.data.seq) for e in events} == {(events[0].event_id, 1)}
    assert await harness.db.messages.count_documents({"conversation_id": "conv-a"}) == 2


async def test_a_different_envelope_under_a_stored_id_is_rejected(harness: Harness) -> None:
    original = send_command("conv-a", correlation_id="req-1")
    await publish_command(harness.bus, original)
    await harness.tap.count("message.stored", 1)
    impostor = send_command("conv-a", original.data.message_id, correlation_id="req-2")
    await publish_command(harness.bus, impostor)

    [rejected] = await harness.tap.count("message.rejected", 1)
    assert rejected.data.code == "conflict"
    assert rejected.data.message_id == original.data.message_id
    assert (rejected.data.sender_account_id, rejected.data.sender_device_id) == (
        "acct-client",
        "dev-client",
    )
    assert rejected.correlation_id == "req-2"
    doc = await harness.db.messages.find_one({"message_id": original.data.message_id})
    assert doc is not None
    assert doc["envelope"] == original.data.envelope.model_dump()
    assert len(harness.tap.of_type("message.stored")) == 1


async def test_seqs_follow_publish_order_in_every_conversation_when_interleaved(
    harness: Harness,
) -> None:
    conversations = [f"conv-{i}" for i in range(12)]
    sent: dict[str, list[str]] = {c: [] for c in conversations}

    async def sender(cid: str) -> None:
        for _ in range(15):
            command = send_command(cid)
            sent[cid].append(command.data.message_id)
            await publish_command(harness.bus, command)

    await asyncio.gather(*(sender(c) for c in conversations))
    events = await harness.tap.count("message.stored", 12 * 15, timeout=30)

    for cid in conversations:
        cursor = harness.db.messages.find({"conversation_id": cid}).sort("seq", 1)
        stored = [(doc["message_id"], doc["seq"]) async for doc in cursor]
        assert [m for m, _ in stored] == sent[cid]
        assert [s for _, s in stored] == list(range(1, 16))
        announced = [e.data.seq for e in events if e.data.conversation_id == cid]
        assert announced == sorted(announced)


async def test_a_malformed_command_is_dead_lettered_and_the_shard_moves_on(
    harness: Harness,
) -> None:
    await publish_raw(harness.bus, "message.send.0", b'{"type": "message.send", "data": {}}')
    no_keys = send_command("conv-a")
    body = no_keys.model_dump(mode="json")
    del body["data"]["envelope"]["keys"]
    await publish_raw(
        harness.bus, no_keys.routing_key(harness.topology.command_shards), json.dumps(body).encode()
    )
    after = send_command("conv-a")
    await publish_command(harness.bus, after)

    [stored] = await harness.tap.count("message.stored", 1)
    assert stored.data.message_id == after.data.message_id
    [rejected] = await harness.tap.count("message.rejected", 1)
    assert (rejected.data.message_id, rejected.data.code) == (
        no_keys.data.message_id,
        "invalid_request",
    )
    dead = await _dead_letters(harness, 2)
    assert b'"data": {}' in dead[0] or b'"data": {}' in dead[1]
    assert any(no_keys.data.message_id.encode() in body for body in dead)


async def test_concurrent_commands_travel_in_batches_and_are_stored_in_their_order(
    harness: Harness,
) -> None:
    """Sends that arrive while their shard's publish waits for a confirm go together in one
    AMQP message (shared/command_lanes.py); messaging stores each once, in that order."""
    commands = [send_command("conv-a") for _ in range(30)]
    published = BUS_PUBLISHED.labels(exchange="haven.commands")
    before = published._value.get()
    await asyncio.gather(*(publish_command(harness.bus, c) for c in commands))
    messages = published._value.get() - before

    events = await harness.tap.count("message.stored", 30)
    assert [e.data.message_id for e in events] == [c.data.message_id for c in commands]
    assert [e.data.seq for e in events] == list(range(1, 31))
    assert await harness.db.messages.count_documents({"conversation_id": "conv-a"}) == 30
    assert messages == 2  # the first alone, the 29 that queued behind it together


async def test_one_bad_command_of_a_batch_goes_to_the_dead_letters_alone(
    harness: Harness,
) -> None:
    good = [send_command("conv-a") for _ in range(2)]
    bad = send_command("conv-a")
    broken = bad.model_dump(mode="json")
    del broken["data"]["envelope"]["keys"]
    body = b"[%s,%s,%s]" % (
        good[0].model_dump_json().encode(),
        json.dumps(broken).encode(),
        good[1].model_dump_json().encode(),
    )
    shard = shard_for("conv-a", harness.topology.command_shards)
    await harness.bus.publish(
        harness.topology.commands,
        f"{BATCH_TYPE}.{shard}",  # the key a gateway publishes batches with
        body,
        message_id="batch",
        message_type=BATCH_TYPE,
    )

    stored = await harness.tap.count("message.stored", 2)
    assert [(e.data.message_id, e.data.seq) for e in stored] == [
        (good[0].data.message_id, 1),
        (good[1].data.message_id, 2),
    ]
    [rejected] = await harness.tap.count("message.rejected", 1)
    assert rejected.data.message_id == bad.data.message_id
    [dead] = await _dead_letter_messages(harness, 1)
    assert json.loads(dead.body) == broken
    assert dead.headers["x-haven-reason"] == "invalid command: message.send.data.envelope.keys"
    assert dead.type == "message.send" and dead.message_id == bad.command_id
    await asyncio.sleep(0.3)  # nothing else follows it: the batch itself was acked
    assert await _dead_letter_messages(harness, 0) == []
    connection = await aio_pika.connect(harness.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(harness.topology.command_queue(shard))
        assert queue.declaration_result.message_count == 0


async def test_where_no_messaging_reads_batches_yet_they_go_as_lone_commands(
    harness: Harness,
) -> None:
    """During an upgrade the gateways may be new before any messaging is: the shard's batch key
    is not bound then, the batch comes back unroutable, and its commands go one by one."""
    shard = shard_for("conv-a", harness.topology.command_shards)
    connection = await aio_pika.connect(harness.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(harness.topology.command_queue(shard))
        await queue.unbind(harness.topology.commands, f"{BATCH_TYPE}.{shard}")
        commands = [send_command("conv-a") for _ in range(10)]
        await asyncio.gather(*(publish_command(harness.bus, c) for c in commands))

        events = await harness.tap.count("message.stored", 10)
        assert [e.data.message_id for e in events] == [c.data.message_id for c in commands]
        assert [e.data.seq for e in events] == list(range(1, 11))
        assert await _dead_letter_messages(harness, 0) == []
        await queue.bind(harness.topology.commands, f"{BATCH_TYPE}.{shard}")


async def test_only_the_sender_deletes_and_the_envelope_is_gone(harness: Harness) -> None:
    command = send_command("conv-a", sender="acct-client")
    mid = command.data.message_id
    await publish_command(harness.bus, command)
    await harness.tap.count("message.stored", 1)

    await publish_command(harness.bus, delete_command("conv-a", mid, "acct-coach"))
    await publish_command(harness.bus, delete_command("conv-a", "no-such-id", "acct-client"))
    await publish_command(harness.bus, delete_command("conv-a", mid, "acct-client"))

    [deleted] = await harness.tap.count("message.deleted", 1)
    assert (deleted.data.message_id, deleted.data.seq, deleted.data.deleted_by) == (
        mid,
        1,
        "acct-client",
    )
    assert deleted.data.recipient_device_ids == ["dev-client", "dev-coach"]
    doc = await harness.db.messages.find_one({"message_id": mid})
    assert doc is not None
    assert "envelope" not in doc
    assert doc["deleted"] is True
    assert doc["deleted_at"] is not None
    page = await harness.rpc("messaging.history", {"conversation_id": "conv-a"})
    [item] = page["messages"]
    assert item["deleted"] is True
    assert "envelope" not in item
    assert (item["message_id"], item["seq"]) == (mid, 1)


async def test_a_resent_deleted_message_stays_deleted_and_silent(harness: Harness) -> None:
    command = send_command("conv-a")
    await publish_command(harness.bus, command)
    await harness.tap.count("message.stored", 1)
    await publish_command(
        harness.bus, delete_command("conv-a", command.data.message_id, "acct-client")
    )
    await harness.tap.count("message.deleted", 1)

    await publish_command(harness.bus, command)
    await publish_command(harness.bus, send_command("conv-a"))
    events = await harness.tap.count("message.stored", 2)
    # The resend was not redelivered, so it went to the insert blind: the unique index
    # refused it, and the seq it had reserved stays a gap (API.md allows gaps).
    assert (events[-1].data.message_id, events[-1].data.seq) != (command.data.message_id, 1)
    assert events[-1].data.seq == 3
    doc = await harness.db.messages.find_one({"message_id": command.data.message_id})
    assert doc is not None
    assert "envelope" not in doc


async def test_read_markers_only_move_forward(harness: Harness) -> None:
    for _ in range(5):
        await publish_command(harness.bus, send_command("conv-a"))
    await harness.tap.count("message.stored", 5)

    for up_to in (3, 2, 3, 4, 99):
        await publish_command(harness.bus, read_command("conv-a", "acct-coach", up_to))
    reads = await harness.tap.count("receipt.read", 3)
    # 2 and the repeated 3 do not move it; 99 stops at the last stored message.
    assert [e.data.up_to_seq for e in reads] == [3, 4, 5]
    assert {e.data.account_id for e in reads} == {"acct-coach"}
    summary = await harness.rpc(
        "messaging.summary", {"account_id": "acct-coach", "conversation_ids": ["conv-a"]}
    )
    assert summary["conversations"]["conv-a"] == {"last_seq": 5, "read_up_to": 5}
    marker = await harness.db.read_markers.find_one({"_id": "conv-a:acct-coach"})
    assert marker is not None
    assert marker["up_to_seq"] == 5


async def _dead_letters(harness: Harness, n: int, timeout: float = 10.0) -> list[bytes]:
    return [message.body for message in await _dead_letter_messages(harness, n, timeout)]


async def _dead_letter_messages(
    harness: Harness, n: int, timeout: float = 10.0
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """`n` dead letters (acked), or all there are now when `n` is 0."""
    messages: list[aio_pika.abc.AbstractIncomingMessage] = []
    connection = await aio_pika.connect(harness.amqp_url)
    async with connection, asyncio.timeout(timeout):
        channel = await connection.channel()
        queue = await channel.get_queue(harness.topology.dead_letters_queue)
        while n == 0 or len(messages) < n:
            message = await queue.get(fail=False)
            if message is None:
                if n == 0:
                    break
                await asyncio.sleep(0.05)
                continue
            messages.append(message)
            await message.ack()
    return messages
