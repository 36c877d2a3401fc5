"""Two messaging processes sharing the command shards: order, fail-over, exactly-once storage."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from shared.bus import Bus
from shared.errors import UnavailableError
from shared.rpc import RpcClient
from shared.topology import Topology
from tests.support.messaging import EventTap, driver_bus, event_tap, publish_command, send_command
from tools.infra import Infra
from tools.stack import Stack, stack_env

PUBLISHERS, CONVERSATIONS_EACH, MESSAGES_EACH = 4, 3, 50
TOTAL = PUBLISHERS * CONVERSATIONS_EACH * MESSAGES_EACH


@pytest.fixture
def replicas(
    infra: Infra,
    isolation: tuple[str, str],
    clean_broker: Topology,
    mongo_client: AsyncMongoClient,
    tmp_path: Path,
) -> Iterator[tuple[Stack, str, str]]:
    """Messaging twice; the first one started holds every shard, the second one waits."""
    namespace, prefix = isolation
    stack = Stack(
        env=stack_env(infra.amqp_url, infra.mongo_url, namespace, prefix, tmp_path),
        log_dir=tmp_path,
    )
    try:
        stack.start("messaging")
        stack.wait_ready()
        standby = stack.start_extra("messaging", "b")
        stack.wait_ready()
        yield stack, "messaging", standby
    finally:
        stack.stop()


async def publish_conversations(bus: Bus, publisher: int, sent: dict[str, list[str]]) -> None:
    """One sender per conversation, interleaving its conversations, each in its own order."""
    conversations = [f"conv-{publisher}-{i}" for i in range(CONVERSATIONS_EACH)]
    for cid in conversations:
        sent[cid] = []
    for _ in range(MESSAGES_EACH):
        for cid in conversations:
            command = send_command(cid)
            sent[cid].append(command.data.message_id)
            await publish_command(bus, command)


async def sync_after_seq(bus: Bus, cid: str, want: int, seen: list[tuple[int, str]]) -> None:
    """A device's `after_seq` sync, repeated: it only ever asks for seqs above the last it saw,
    so a message that became visible below one already seen would be missed for good."""
    client = RpcClient.of(bus)
    while len(seen) < want:
        after = seen[-1][0] if seen else 0
        try:
            page = await client.call(
                "messaging.history", {"conversation_id": cid, "after_seq": after}
            )
        except UnavailableError:  # the killed replica held the request; ask again
            continue
        seen += [(m["seq"], m["message_id"]) for m in page["messages"]]
        if not page["messages"]:
            await asyncio.sleep(0.05)


async def stop_when_busy(stack: Stack, victim: str, tap: EventTap, *, kill: bool) -> None:
    """Stop the active replica (SIGKILL, or SIGTERM) while it has a backlog of commands."""
    await tap.count("message.stored", TOTAL // 5, timeout=30)
    if kill:
        stack.processes[victim].kill()
    else:
        stack.processes[victim].terminate()


@pytest.mark.parametrize("kill", [True, False], ids=["sigkill", "sigterm"])
async def test_two_replicas_keep_order_and_lose_nothing_when_the_active_one_stops(
    infra: Infra,
    clean_broker: Topology,
    mongo_client: AsyncMongoClient,
    isolation: tuple[str, str],
    replicas: tuple[Stack, str, str],
    kill: bool,
) -> None:
    stack, active, standby = replicas
    db = mongo_client[f"{isolation[1]}_messaging"]
    sent: dict[str, list[str]] = {}
    synced: dict[str, list[tuple[int, str]]] = {}
    async with (
        event_tap(infra.amqp_url, clean_broker, "message.stored") as tap,
        driver_bus(infra.amqp_url, clean_broker) as bus,
    ):
        stopper = asyncio.create_task(stop_when_busy(stack, active, tap, kill=kill))
        await asyncio.gather(*(publish_conversations(bus, p, sent) for p in range(PUBLISHERS)))
        async with asyncio.timeout(45):
            await stopper
            await asyncio.gather(
                *(
                    sync_after_seq(bus, cid, MESSAGES_EACH, synced.setdefault(cid, []))
                    for cid in sent
                )
            )
            every_id = {m for ids in sent.values() for m in ids}
            await tap.wait_for(lambda t: {e.data.message_id for e in t.events} >= every_id)
        events = tap.events

    assert stack.processes[active].wait(15) == (-9 if kill else 0)
    for cid, message_ids in sent.items():
        cursor = db.messages.find({"conversation_id": cid}).sort("seq", 1)
        stored = [(doc["seq"], doc["message_id"]) async for doc in cursor]
        # Nothing lost, nothing stored twice, and seq order is the sender's order.
        assert [m for _, m in stored] == message_ids, cid
        # The device that synced by after_seq while all this happened saw every message.
        assert synced[cid] == stored, cid
    seq_of = {m: s for cid in sent for s, m in synced[cid]}
    # Redelivered commands re-announce the stored message: same event id, same seq.
    by_id: dict[str, set[tuple[str, int]]] = {}
    for event in events:
        by_id.setdefault(event.data.message_id, set()).add((event.event_id, event.data.seq))
    assert set(by_id) == set(seq_of)
    assert all(len(v) == 1 and next(iter(v))[1] == seq_of[m] for m, v in by_id.items())
    # Both replicas did part of the work: the standby took over the shards.
    for name in (active, standby):
        assert any(line.get("event") == "message_stored" for line in stack.log_lines(name)), name
