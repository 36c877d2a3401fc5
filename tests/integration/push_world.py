"""The push test harness: the notification service in-process against the real broker and
store, driven by real events on the bus and the RPC contract, pushing to a real HTTP receiver on
127.0.0.1 (admitted by the development switch) that stands in for an integrator's push gateway.
Its fixtures are imported by the tests/integration/test_push_*.py modules.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aiohttp import web
from pymongo import AsyncMongoClient

from services.notification.push.sealing import generate_key_text
from services.notification.settings import parse_delays
from shared.bus import Bus
from shared.events import (
    DeviceAdded,
    DeviceData,
    EventBase,
    MessageStored,
    RelationshipCreated,
    RelationshipData,
    StoredMessageData,
)
from shared.notify_contracts import (
    DETAIL_PUT,
    PUSH_PUT,
    NotificationDetail,
    NotificationDetailPut,
    PushSubscriptionPut,
    PushSubscriptionReply,
)
from shared.rpc import RpcClient
from shared.topology import Topology
from tests.support.inprocess import AppStack
from tests.support.isolation import COMMAND_SHARDS
from tests.support.localhttp import serving_posts
from tests.support.logcapture import LogCapture
from tools.infra import Infra

DELAYS = "0.4,0.8,1.6"  # the retry back-off, shortened
COLLAPSE = 1.0
SECRETS = {"cd1": "s" * 32 + "-cd1", "cd2": "t" * 40 + "-cd2", "kd1": "u" * 64}
CIPHERTEXT = base64.b64encode(b"I had a hard night, can we talk?").decode()


@dataclass
class Received:
    device: str
    status: int
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A push gateway on 127.0.0.1: `/{device}/{status}` answers with that status."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        status = int(request.match_info["status"])
        self.received.append(
            Received(
                device=request.match_info["device"],
                status=status,
                headers=dict(request.headers),
                body=await request.read(),
                at=time.monotonic(),
            )
        )
        self.changed.set()
        return web.Response(status=status)

    def url(self, device: str, status: int = 200) -> str:
        return f"http://127.0.0.1:{self.port}/{device}/{status}"

    def of(self, device: str) -> list[Received]:
        return [r for r in self.received if r.device == device]

    async def wait_for(self, device: str, count: int, timeout: float = 15.0) -> list[Received]:
        async with asyncio.timeout(timeout):
            while len(self.of(device)) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.of(device)


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    async with serving_posts("/{device}/{status}", receiver.handle) as receiver.port:
        yield receiver


@dataclass
class ShiftedClock:
    """The wall clock moved by `offset`, which the test may change as it goes: what the
    notification replicas built with it read as "now" (the service's `clock` dependency)."""

    offset: timedelta = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def reads(self, at: datetime) -> None:
        """From now on the clock reads `at` (and goes on from there)."""
        self.offset = at - datetime.now(UTC)


@dataclass
class World:
    apps: AppStack
    bus: Bus
    receiver: Receiver
    db: Any
    amqp_url: str
    topology: Topology

    @property
    def rpc(self) -> RpcClient:
        return RpcClient.of(self.bus)

    def handled(self, event_id: str) -> int:
        return sum(
            1
            for line in self.apps.logs.lines
            if line.get("event") == "event_handled" and line.get("event_id") == event_id
        )

    def logged(self, event: str, **match: object) -> int:
        """How many log lines of the notification replicas are `event` with these fields."""
        return sum(
            1
            for line in self.apps.logs.lines
            if line.get("event") == event and all(line.get(k) == v for k, v in match.items())
        )

    async def until_logged(
        self, count: int, event: str, timeout: float = 10.0, **match: object
    ) -> None:
        """A fence: wait until the replicas have logged `event` (with these fields) `count`
        times, i.e. they have done that work."""
        async with asyncio.timeout(timeout):
            while self.logged(event, **match) < count:
                await asyncio.sleep(0.02)

    async def emit(self, event: EventBase[Any], timeout: float = 10.0) -> None:
        """Publish an event and wait until a notification replica has handled it."""
        before = self.handled(event.event_id)
        await self.bus.publish_event(event)
        async with asyncio.timeout(timeout):
            while self.handled(event.event_id) == before:
                await asyncio.sleep(0.02)

    async def subscribe(
        self, device: str, account: str, status: int = 200
    ) -> PushSubscriptionReply:
        request = PushSubscriptionPut(
            account_id=account,
            device_id=device,
            url=self.receiver.url(device, status),
            secret=SECRETS[device],
        )
        return await self.rpc.call(PUSH_PUT, request)

    async def detail(self, account: str, conversation: str, detail: NotificationDetail) -> None:
        request = NotificationDetailPut(
            account_id=account, conversation_id=conversation, notification_detail=detail
        )
        await self.rpc.call(DETAIL_PUT, request)

    async def unsent(self, device: str) -> list[str]:
        query = {"device_id": device, "sent_at": {"$exists": False}}
        return sorted([d["message_id"] async for d in self.db["pending"].find(query)])

    async def jobs_waiting(self) -> int:
        """Push jobs in the work queue or a retry delay queue: what could still reach the
        receiver once the handler of the last one has logged its outcome."""
        delays = parse_delays(self.apps.env["HAVEN_PUSH_RETRY_DELAYS"])
        names = [self.topology.push_queue, *map(self.topology.push_delay_queue, delays)]
        connection = await aio_pika.connect(self.amqp_url)
        async with connection:
            channel = await connection.channel()
            waiting = 0
            for name in names:
                queue = await channel.declare_queue(name, passive=True)
                waiting += queue.declaration_result.message_count or 0
        return waiting

    async def dead_letters(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []
        connection = await aio_pika.connect(self.amqp_url)
        async with connection, asyncio.timeout(timeout):
            channel = await connection.channel()
            queue = await channel.get_queue(self.topology.dead_letters_queue)
            while len(bodies) < count:
                message = await queue.get(fail=False)
                if message is None:
                    await asyncio.sleep(0.05)
                    continue
                bodies.append(json.loads(message.body))
                await message.ack()
        return bodies


def relationship(conversation: str, coach: str, client: str) -> RelationshipCreated:
    return RelationshipCreated.create(
        RelationshipData(
            conversation_id=conversation,
            coach_account_id=coach,
            client_account_id=client,
            coach_display_name="Kim",
            client_display_name="Sam",
        )
    )


def stored(
    message_id: str,
    recipients: list[str],
    *,
    conversation: str = "c1",
    urgent: bool = False,
    seq: int = 1,
) -> MessageStored:
    return MessageStored.create(
        StoredMessageData(
            conversation_id=conversation,
            message_id=message_id,
            seq=seq,
            sender_account_id="client",
            sender_device_id="kd1",
            server_ts=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
            urgent=urgent,
            envelope={
                "message_id": message_id,
                "alg": "haven-v1",
                "ciphertext": CIPHERTEXT,
                "keys": {},
            },
            recipient_device_ids=recipients,
        )
    )


def push_env(
    infra: Infra, isolation: tuple[str, str], key_file: Path, **overrides: str
) -> dict[str, str]:
    namespace, prefix = isolation
    return {
        "HAVEN_AMQP_URL": infra.amqp_url,
        "HAVEN_MONGO_URL": infra.mongo_url,
        "HAVEN_NAMESPACE": namespace,
        "HAVEN_DB_PREFIX": prefix,
        "HAVEN_COMMAND_SHARDS": str(COMMAND_SHARDS),
        "HAVEN_NOTIFICATION_PORT": "8082",  # not bound in-process: AppStack picks a port
        "HAVEN_DEVICES_CHANGED_WINDOW_SECONDS": "0",
        "HAVEN_PUSH_INSECURE_ALLOW_LOOPBACK": "1",
        "HAVEN_PUSH_ALLOWED_HOSTS": "push.example.com",
        "HAVEN_PUSH_SECRET_KEY_FILE": str(key_file),
        "HAVEN_PUSH_RETRY_DELAYS": DELAYS,
        "HAVEN_PUSH_COLLAPSE_SECONDS": str(COLLAPSE),
        "HAVEN_PUSH_SWEEP_SECONDS": "0.1",
        "HAVEN_PUSH_LEASE_SECONDS": "5",
        **overrides,
    }


async def drop_push_topology(amqp_url: str, topology: Topology, delays: str) -> None:
    """What `clean_broker` does not know: the delay queues and the push exchange."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for delay_ms in parse_delays(delays):
            await channel.queue_delete(topology.push_delay_queue(delay_ms))
        await channel.exchange_delete(topology.push)


OpenWorld = Callable[..., AbstractAsyncContextManager[World]]


@pytest.fixture
def open_world(
    infra: Infra,
    isolation: tuple[str, str],
    clean_broker: Topology,
    mongo_client: AsyncMongoClient[dict[str, Any]],
    tmp_path: Path,
) -> OpenWorld:
    """`async with open_world(**HAVEN_overrides) as world`: notification (one replica) with
    coach (cd1, cd2) and client (kd1) in conversation c1, nobody online. With `clock=`, every
    notification replica of the world reads "now" from it."""
    key_file = tmp_path / "push_secret_key"
    key_file.write_text(generate_key_text())

    @asynccontextmanager
    async def opened(clock: ShiftedClock | None = None, **overrides: str) -> AsyncIterator[World]:
        env = push_env(infra, isolation, key_file, **overrides)
        logs = LogCapture()
        logs.install()
        dependencies = {} if clock is None else {"notification": {"clock": clock}}
        apps = AppStack(env=env, logs=logs, dependencies=dependencies)
        bus = Bus(infra.amqp_url, clean_broker, f"{clean_broker.namespace}driver")
        try:
            async with receiving() as receiver:
                await apps.start("notification")
                await bus.start()
                db = mongo_client[f"{isolation[1]}_notification"]
                world = World(apps, bus, receiver, db, infra.amqp_url, clean_broker)
                await world.emit(relationship("c1", "coach", "client"))
                for account, device in [("coach", "cd1"), ("coach", "cd2"), ("client", "kd1")]:
                    await world.emit(
                        DeviceAdded.create(DeviceData(account_id=account, device_id=device))
                    )
                try:
                    yield world
                finally:
                    await apps.close()
        finally:
            await bus.close(1)
            logs.uninstall()
            await drop_push_topology(infra.amqp_url, clean_broker, env["HAVEN_PUSH_RETRY_DELAYS"])

    return opened


@pytest.fixture
async def world(open_world: OpenWorld) -> AsyncIterator[World]:
    async with open_world() as opened:
        yield opened


# Every push job queued ends in one of the outcomes (a retry is queued again and ends later).
QUEUED = ("push_queued", "push_notice_queued")
OUTCOMES = (
    "push_sent",
    "push_dead_lettered",
    "push_subscription_gone",
    "push_dropped_no_subscription",
    "push_already_sent",
)


async def nothing_left_to_push(
    db: Any, device_id: str, logs: Callable[[], list[dict[str, Any]]], timeout: float = 15.0
) -> None:
    """Fence: the engine and the push consumer are done with the device. None of its pending
    rows is unsent and none of its slots is held by a sweeper (so no sweep can prepare another
    push: a slot with nothing unsent closes without one), and every push the notification
    replicas queued (`logs`: their log lines) has been sent or given up."""
    unsent = {"device_id": device_id, "sent_at": {"$exists": False}}
    held = {"device_id": device_id, "lease": {"$exists": True}}

    def count(event: str) -> int:
        return sum(1 for line in logs() if line.get("event") == event)

    async with asyncio.timeout(timeout):
        while (
            await db["pending"].count_documents(unsent)
            or await db["push_slots"].count_documents(held)
            or sum(map(count, QUEUED)) > sum(map(count, OUTCOMES))
        ):
            await asyncio.sleep(0.02)
