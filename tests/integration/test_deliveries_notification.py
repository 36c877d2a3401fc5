"""The notification service, in-process against the real broker and store: events in on
`haven.events`, deliveries out to two DeliveryRouters standing in for two gateway replicas,
pending notifications in its DB."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from services.gateway.sockets.router import DeliveryRouter
from shared.bus import Bus
from shared.events import (
    DeliveryFailed,
    DeliveryFailedData,
    DeviceAdded,
    DeviceData,
    DeviceRemoved,
    DeviceUpdated,
    MessageDeleted,
    MessageDeletedData,
    MessageRejected,
    MessageStored,
    ReceiptData,
    ReceiptRead,
    RejectedData,
    RelationshipCreated,
    RelationshipData,
    RelationshipEnded,
    RelationshipEndedData,
    StoredMessageData,
)
from shared.topology import Topology
from tests.integration.test_deliveries_router import GatewayDouble, fence
from tests.support.inprocess import AppStack
from tests.support.logcapture import LogCapture
from tools.infra import Infra

ENVELOPE = {"message_id": "m1", "alg": "haven-v1", "ciphertext": "c2VjcmV0", "keys": {}}


@pytest.fixture
def stack_overrides() -> dict[str, str]:
    # Every device change announced at once: these tests count frames per event
    # (the debounce itself: tests/e2e/test_device_announcements.py).
    return {"HAVEN_DEVICES_CHANGED_WINDOW_SECONDS": "0"}


@pytest.fixture
async def notification(
    stack_environment: dict[str, str], clean_broker: Topology, mongo_client: AsyncMongoClient
) -> AsyncIterator[AppStack]:
    """The notification service alone, in this loop (as `python -m services.notification`
    serves it; its process life is tests/e2e's): the routers below play the gateways."""
    logs = LogCapture()
    logs.install()
    stack = AppStack(env=stack_environment, logs=logs)
    try:
        await stack.start("notification")
        yield stack
    finally:
        try:
            await stack.close()
        finally:
            logs.uninstall()


@dataclass
class World:
    """coach (cd1 on A, cd2 on B) and client (kd1 on A, kd2 offline) share conversation c1."""

    service: AppStack
    events: Bus
    a: GatewayDouble
    b: GatewayDouble
    db: Any
    # The counters as this test found them: the service runs in the test process, whose
    # metrics registry earlier tests counted in too.
    counted_before: dict[str, float] = field(default_factory=dict)

    async def emit(self, event: Any, timeout: float = 10.0) -> None:
        """Publish an event and wait until notification has handled it (once more)."""
        before = self.handled(event.event_id)
        await self.events.publish_event(event)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.handled(event.event_id) == before:
            assert loop.time() < deadline, f"{event.type} {event.event_id} not handled in time"
            await asyncio.sleep(0.05)

    def handled(self, event_id: str) -> int:
        return sum(
            1
            for line in self.service.log_lines("notification")
            if line.get("event") == "event_handled" and line.get("event_id") == event_id
        )

    async def pending(self) -> list[tuple[str, str, str]]:
        docs = await self.db["pending"].find({}).to_list()
        return sorted((d["device_id"], d["message_id"], d["reason"]) for d in docs)

    async def offline_counter(self, reason: str) -> float:
        """`haven_deliveries_offline_total{reason}` as served on /metrics, since the test began."""
        return await self._served_counter(reason) - self.counted_before.get(reason, 0.0)

    async def _served_counter(self, reason: str) -> float:
        async with aiohttp.ClientSession() as http:
            response = await http.get(f"{self.service.health_url('notification')}/metrics")
            text = await response.text()
        pattern = rf'^haven_deliveries_offline_total\{{reason="{reason}"\}} (\S+)$'
        match = re.search(pattern, text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0


@pytest.fixture
async def world(
    notification: AppStack,
    infra: Infra,
    clean_broker: Topology,
    mongo_client: AsyncMongoClient,
    isolation: tuple[str, str],
) -> AsyncIterator[World]:
    buses = [
        Bus(infra.amqp_url, clean_broker, f"{clean_broker.namespace}{role}")
        for role in ("events", "gw-a", "gw-b")
    ]
    for bus in buses:
        await bus.start()
    a = GatewayDouble(name="gw-a", router=DeliveryRouter(bus=buses[1]))
    b = GatewayDouble(name="gw-b", router=DeliveryRouter(bus=buses[2]))
    for gateway in (a, b):
        await asyncio.wait_for(gateway.router.start(gateway.inbox, gateway.on_rebound), 10)
    world = World(notification, buses[0], a, b, mongo_client[f"{isolation[1]}_notification"])
    for reason in ("unroutable", "ack_timeout"):
        world.counted_before[reason] = await world._served_counter(reason)
    await world.emit(relationship_created("c1", "coach", "client"))
    for account, device in [("coach", "cd1"), ("coach", "cd2"), ("client", "kd1")]:
        await world.emit(
            DeviceAdded(
                event_id=f"add-{device}", data=DeviceData(account_id=account, device_id=device)
            )
        )
    await world.emit(
        DeviceAdded(event_id="add-kd2", data=DeviceData(account_id="client", device_id="kd2"))
    )
    await a.router.bind("cd1")
    await a.router.bind("kd1")
    await b.router.bind("cd2")
    yield world
    for gateway in (a, b):
        await gateway.router.close()
    for bus in reversed(buses):
        await bus.close(1)


def relationship_created(conversation_id: str, coach: str, client: str) -> RelationshipCreated:
    return RelationshipCreated(
        event_id=f"created-{conversation_id}",
        data=RelationshipData(
            conversation_id=conversation_id, coach_account_id=coach, client_account_id=client
        ),
    )


def stored(message_id: str, recipients: list[str], sender_device: str = "kd1") -> MessageStored:
    return MessageStored(
        event_id=f"stored-{message_id}",
        data=StoredMessageData(
            conversation_id="c1",
            message_id=message_id,
            seq=4,
            sender_account_id="client",
            sender_device_id=sender_device,
            server_ts=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
            urgent=False,
            envelope=ENVELOPE,
            recipient_device_ids=recipients,
        ),
    )


async def test_stored_message_reaches_recipients_on_their_gateways_never_the_sender(
    world: World,
) -> None:
    await world.emit(stored("m1", ["cd1", "cd2", "kd1", "kd2"]))

    on_a = await world.a.inbox.wait_for(lambda d: d.device_id == "cd1" and d.ack_message_id == "m1")
    on_b = await world.b.inbox.wait_for(lambda d: d.device_id == "cd2" and d.ack_message_id == "m1")
    await fence(world.events, world.a, "kd1")
    await fence(world.events, world.b, "cd2")

    for delivery in (on_a, on_b):
        assert delivery.frame is not None
        assert delivery.frame.wire() == {
            "type": "message",
            "message": {
                "message_id": "m1",
                "conversation_id": "c1",
                "seq": 4,
                "sender_account_id": "client",
                "sender_device_id": "kd1",
                "server_ts": "2026-03-01T09:00:00Z",
                "urgent": False,
                "deleted": False,
                "envelope": ENVELOPE,
            },
        }
    assert world.a.inbox.frames("kd1", "message") == []
    assert {d.device_id for d in world.a.inbox.items if d.ack_message_id} == {"cd1"}
    assert {d.device_id for d in world.b.inbox.items if d.ack_message_id} == {"cd2"}
    assert await world.pending() == [("kd2", "m1", "unroutable")]
    assert await world.offline_counter("unroutable") == 1.0


async def test_redelivered_message_event_records_the_offline_device_once(world: World) -> None:
    await world.emit(stored("m2", ["cd1", "kd2"]))
    await world.emit(stored("m2", ["cd1", "kd2"]))  # RabbitMQ delivers at least once
    await fence(world.events, world.a, "cd1")
    deliveries = [d for d in world.a.inbox.items if d.ack_message_id == "m2"]
    assert deliveries[0].delivery_id == deliveries[1].delivery_id  # dedupable downstream
    assert await world.pending() == [("kd2", "m2", "unroutable")]
    assert await world.offline_counter("unroutable") == 1.0


async def test_unacked_delivery_reported_by_a_gateway_becomes_pending(world: World) -> None:
    await world.emit(
        DeliveryFailed(
            event_id="failed-1",
            data=DeliveryFailedData(device_id="cd1", conversation_id="c1", message_id="m7"),
        )
    )
    assert await world.pending() == [("cd1", "m7", "ack_timeout")]
    assert await world.offline_counter("ack_timeout") == 1.0
    assert await world.offline_counter("unroutable") == 0.0


async def test_device_and_relationship_events_reach_exactly_the_right_devices(
    world: World,
) -> None:
    a, b = world.a, world.b
    await world.emit(
        DeviceAdded(event_id="add-cd3", data=DeviceData(account_id="coach", device_id="cd3"))
    )
    await world.emit(
        DeviceRemoved(event_id="rm-cd2", data=DeviceData(account_id="coach", device_id="cd2"))
    )
    await world.emit(
        DeviceUpdated(event_id="upd-kd1", data=DeviceData(account_id="client", device_id="kd1"))
    )
    await world.emit(
        DeviceAdded(event_id="add-k2", data=DeviceData(account_id="client2", device_id="k2d1"))
    )
    await b.router.bind("k2d1")
    await world.emit(relationship_created("c2", "coach", "client2"))
    await world.emit(
        ReceiptRead(
            event_id="read-1",
            data=ReceiptData(conversation_id="c1", account_id="client", up_to_seq=4, share=True),
        )
    )
    await world.emit(
        RelationshipEnded(
            event_id="end-c1", data=RelationshipEndedData(conversation_id="c1", ended_by="client")
        )
    )
    await fence(world.events, a, "cd1")
    await fence(world.events, b, "cd2")

    coach_changed = {"type": "devices_changed", "account_id": "coach"}
    client_changed = {"type": "devices_changed", "account_id": "client"}
    read = {"type": "read", "conversation_id": "c1", "account_id": "client", "up_to_seq": 4}
    quiet = {"reason": None, "resume_on": None}
    c2_active = {"type": "relationship", "conversation_id": "c2", "status": "active", **quiet}
    c1_ended = {"type": "relationship", "conversation_id": "c1", "status": "ended", **quiet}
    real = {"devices_changed", "read", "relationship"}

    def seen(gateway: GatewayDouble, device: str) -> list[dict[str, object]]:
        return [f for f in gateway.inbox.frames(device) if f["type"] in real]

    # cd3 joined the coach's devices; cd2 left; kd1 rotated keys; c2 began; c1 was read and ended.
    assert seen(a, "cd1") == [
        coach_changed,
        coach_changed,
        client_changed,
        c2_active,
        read,
        c1_ended,
    ]
    assert seen(a, "kd1") == [coach_changed, coach_changed, read, c1_ended]
    # c1 ended: the coach's counterparts are client2 only now, the client has none.
    assert seen(b, "cd2") == [coach_changed]  # nothing once removed, though still bound here
    assert seen(b, "k2d1") == [c2_active]  # bound later; joined by c2
    assert await world.pending() == []


async def test_deletions_go_to_recipients_and_rejections_to_the_sender_device_only(
    world: World,
) -> None:
    await world.emit(
        MessageDeleted(
            event_id="del-m1",
            data=MessageDeletedData(
                conversation_id="c1",
                message_id="m1",
                seq=4,
                deleted_by="client",
                recipient_device_ids=["cd1", "cd2", "kd1", "kd2"],
            ),
        )
    )
    await world.emit(
        MessageRejected(
            event_id="rej-m9",
            data=RejectedData(
                conversation_id="c1",
                message_id="m9",
                sender_account_id="client",
                sender_device_id="kd1",
                code="conflict",
                detail="message_id already used with another envelope",
            ),
        )
    )
    await fence(world.events, world.a, "cd1")
    await fence(world.events, world.b, "cd2")

    deleted = {"type": "message_deleted", "conversation_id": "c1", "message_id": "m1", "seq": 4}
    rejected = {
        "type": "message_rejected",
        "conversation_id": "c1",
        "message_id": "m9",
        "code": "conflict",
        "detail": "message_id already used with another envelope",
    }
    assert world.a.inbox.frames("cd1", "message_deleted") == [deleted]
    assert world.a.inbox.frames("kd1", "message_deleted") == [deleted]
    assert world.b.inbox.frames("cd2", "message_deleted") == [deleted]
    assert world.a.inbox.frames("kd1", "message_rejected") == [rejected]
    assert world.a.inbox.frames("cd1", "message_rejected") == []
    assert world.b.inbox.frames("cd2", "message_rejected") == []
    assert await world.pending() == []  # only message frames leave pending notifications
