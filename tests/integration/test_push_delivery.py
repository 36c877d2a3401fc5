"""Push against the real broker and store: the notification service in-process, driven by real
events on the bus and the RPC contract, pushing to a real HTTP receiver on 127.0.0.1 (admitted
by the development switch) that stands in for an integrator's push gateway.

The fixtures here are shared with tests/integration/test_push_quiet_hours.py.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aiohttp import web
from pymongo import AsyncMongoClient

from services.notification.push.sealing import generate_key_text
from services.notification.push.signing import DELIVERY, verify
from services.notification.settings import parse_delays
from shared.bus import Bus
from shared.events import (
    AccountData,
    AccountDeleted,
    DeliveryFailed,
    DeliveryFailedData,
    DeviceAdded,
    DeviceData,
    DeviceRemoved,
    EventBase,
    MessageStored,
    ReceiptData,
    ReceiptRead,
    RelationshipCreated,
    RelationshipData,
    StoredMessageData,
)
from shared.notify_contracts import (
    DETAIL_PUT,
    INVALID_FIELD,
    PUSH_DELETE,
    PUSH_GET,
    PUSH_PUT,
    NotificationDetail,
    NotificationDetailPut,
    PushSubscriptionPut,
    PushSubscriptionQuery,
    PushSubscriptionReply,
    parse_invalid_fields,
)
from shared.rpc import RpcClient, RpcError
from shared.topology import Topology
from tests.support.infra import Infra
from tests.support.inprocess import AppStack
from tests.support.isolation import COMMAND_SHARDS
from tests.support.logcapture import LogCapture

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
    app = web.Application()
    app.router.add_post("/{device}/{status}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.port = runner.addresses[0][1]
    try:
        yield receiver
    finally:
        await runner.cleanup()


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
    coach (cd1, cd2) and client (kd1) in conversation c1, nobody online."""
    key_file = tmp_path / "push_secret_key"
    key_file.write_text(generate_key_text())

    @asynccontextmanager
    async def opened(**overrides: str) -> AsyncIterator[World]:
        env = push_env(infra, isolation, key_file, **overrides)
        logs = LogCapture()
        logs.install()
        apps = AppStack(env=env, logs=logs)
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


async def settle(seconds: float = COLLAPSE + 1.0) -> None:
    """Long enough for a collapse window and a few sweeps: what has not come by then won't."""
    await asyncio.sleep(seconds)


# --- sending ------------------------------------------------------------------------------


async def test_an_offline_device_gets_one_signed_content_free_push_per_burst(
    world: World,
) -> None:
    assert await world.subscribe("cd1", "coach") == PushSubscriptionReply(
        set=True, host="127.0.0.1"
    )
    for n in (1, 2, 3):
        await world.emit(stored(f"m{n}", ["cd1", "cd2"], seq=n))

    [push] = await world.receiver.wait_for("cd1", 1)
    await settle()
    assert len(world.receiver.of("cd1")) == 1  # one push for the burst
    assert json.loads(push.body) == {"event": "new_message", "conversation_id": "c1", "unread": 3}
    assert verify(SECRETS["cd1"], push.headers, push.body, now=time.time())
    assert not verify(SECRETS["cd2"], push.headers, push.body, now=time.time())
    assert push.headers[DELIVERY]
    assert await world.unsent("cd1") == []  # sent
    assert world.receiver.of("cd2") == []  # no subscription: nothing pushed, the row waits
    assert await world.unsent("cd2") == ["m1", "m2", "m3"]

    # A later message: a new burst, one more push; the unread count goes on until read.
    await world.emit(stored("m4", ["cd1"], seq=4))
    second = (await world.receiver.wait_for("cd1", 2))[1]
    assert json.loads(second.body)["unread"] == 4
    assert second.headers[DELIVERY] != push.headers[DELIVERY]
    await world.emit(
        ReceiptRead.create(ReceiptData(conversation_id="c1", account_id="coach", up_to_seq=4))
    )
    await world.emit(stored("m5", ["cd1"], seq=5))
    third = (await world.receiver.wait_for("cd1", 3))[2]
    assert json.loads(third.body)["unread"] == 1


async def test_push_bodies_follow_notification_detail_and_never_hold_content(
    world: World,
) -> None:
    await world.subscribe("cd1", "coach")
    await world.subscribe("cd2", "coach")
    await world.emit(relationship("c2", "coach", "client"))
    await world.detail("coach", "c1", "sender")
    await world.detail("coach", "c2", "none")

    await world.emit(stored("u1", ["cd1"], urgent=True))
    await world.emit(stored("u2", ["cd2"], conversation="c2", urgent=True))
    [with_name] = await world.receiver.wait_for("cd1", 1)
    [sync] = await world.receiver.wait_for("cd2", 1)

    assert json.loads(with_name.body) == {
        "event": "new_message",
        "conversation_id": "c1",
        "unread": 1,
        "sender_display_name": "Sam",
        "urgent": True,
    }
    assert json.loads(sync.body) == {"event": "sync"}  # `none`: not even urgent
    for push in world.receiver.received:
        for content in (CIPHERTEXT.encode(), b"u1", b"u2", b"kd1", b"haven-v1"):
            assert content not in push.body


async def test_a_failing_gateway_sees_retries_at_growing_intervals_then_a_dead_letter(
    world: World,
) -> None:
    await world.subscribe("cd1", "coach", status=503)
    await world.emit(stored("m1", ["cd1"], urgent=True))

    attempts = await world.receiver.wait_for("cd1", 4)
    [dead] = await world.dead_letters(1)

    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    for gap, delay in zip(gaps, parse_delays(DELAYS), strict=True):
        assert gap >= delay / 1000 * 0.9
    assert gaps == sorted(gaps)
    assert len({a.headers[DELIVERY] for a in attempts}) == 1  # one delivery, four attempts
    assert all(verify(SECRETS["cd1"], a.headers, a.body, now=time.time()) for a in attempts)
    assert dead["failure"] == "http_503"
    assert dead["attempt"] == 3
    assert dead["delivery_id"] == attempts[0].headers[DELIVERY]
    assert "secret" not in json.dumps(dead)
    await settle()
    assert len(world.receiver.of("cd1")) == 4  # nothing after the dead letter


async def test_a_gateway_answering_410_removes_the_subscription(world: World) -> None:
    await world.subscribe("cd1", "coach", status=410)
    query = PushSubscriptionQuery(account_id="coach", device_id="cd1")
    assert (await world.rpc.call(PUSH_GET, query)).set

    await world.emit(stored("m1", ["cd1"], urgent=True))
    await world.receiver.wait_for("cd1", 1)
    await settle()

    assert (await world.rpc.call(PUSH_GET, query)) == PushSubscriptionReply(set=False)
    assert await world.db["push_subscriptions"].count_documents({}) == 0
    assert await world.unsent("cd1") == []
    assert len(world.receiver.of("cd1")) == 1  # 410 is not retried


async def test_a_4xx_other_than_410_is_dead_lettered_without_retry(world: World) -> None:
    await world.subscribe("cd1", "coach", status=400)
    await world.emit(stored("m1", ["cd1"], urgent=True))
    [dead] = await world.dead_letters(1)
    assert (dead["failure"], dead["attempt"]) == ("http_400", 0)
    assert len(world.receiver.of("cd1")) == 1


async def test_subscriptions_are_stored_sealed_and_go_with_their_device(world: World) -> None:
    await world.subscribe("cd1", "coach")
    await world.subscribe("cd2", "coach")
    stored_doc = await world.db["push_subscriptions"].find_one({"_id": "cd1"})
    assert SECRETS["cd1"].encode() not in bytes(stored_doc["secret"])
    assert SECRETS["cd1"] not in json.dumps(stored_doc, default=str)

    other = PushSubscriptionQuery(account_id="client", device_id="cd1")
    assert (await world.rpc.call(PUSH_GET, other)) == PushSubscriptionReply(set=False)
    with pytest.raises(RpcError) as caught:
        await world.rpc.call(PUSH_DELETE, other)
    assert caught.value.code == "not_found"

    await world.emit(stored("m1", ["cd2"]))
    await world.emit(DeviceRemoved.create(DeviceData(account_id="coach", device_id="cd2")))
    assert await world.db["push_subscriptions"].find_one({"_id": "cd2"}) is None
    assert await world.db["pending"].count_documents({"device_id": "cd2"}) == 0
    with pytest.raises(RpcError) as removed:
        await world.subscribe("cd2", "coach")
    assert removed.value.code == "not_found"

    mine = PushSubscriptionQuery(account_id="coach", device_id="cd1")
    assert (await world.rpc.call(PUSH_DELETE, mine)) == PushSubscriptionReply(set=False)
    assert (await world.rpc.call(PUSH_GET, mine)) == PushSubscriptionReply(set=False)
    await settle(0.5)
    assert world.receiver.received == []


async def test_a_delivery_a_socket_never_acknowledged_becomes_a_push_too(world: World) -> None:
    """The gateway routed it (the socket was there) but got no ack: `delivery.failed`."""
    await world.subscribe("cd1", "coach")
    await world.emit(stored("m9", [], urgent=True, seq=9))  # as if routed to cd1's socket
    await world.emit(
        DeliveryFailed.create(
            DeliveryFailedData(device_id="cd1", conversation_id="c1", message_id="m9")
        )
    )
    [push] = await world.receiver.wait_for("cd1", 1)
    assert json.loads(push.body) == {
        "event": "new_message",
        "conversation_id": "c1",
        "unread": 1,
        "urgent": True,  # remembered from message.stored: the failure names the message only
    }


async def test_a_deleted_account_loses_its_push_data(world: World) -> None:
    await world.subscribe("cd1", "coach")
    await world.detail("coach", "c1", "sender")
    await world.emit(stored("m1", ["cd1"], seq=1))
    await world.emit(AccountDeleted.create(AccountData(account_id="coach")))
    for collection in ("push_subscriptions", "notification_details", "push_slots"):
        assert await world.db[collection].count_documents({}) == 0, collection
    assert await world.db["pending"].count_documents({"account_id": "coach"}) == 0
    names = await world.db["display_names"].find_one({"_id": "c1"})
    assert [entry["account_id"] for entry in names["names"]] == ["client"]
    await settle()
    assert world.receiver.received == []


# --- the URL guard, at registration and at every send --------------------------------------


async def put_refused(world: World, url: str) -> tuple[list[str], str | None]:
    request = PushSubscriptionPut(
        account_id="coach", device_id="cd1", url=url, secret=SECRETS["cd1"]
    )
    with pytest.raises(RpcError) as caught:
        await world.rpc.call(PUSH_PUT, request)
    assert caught.value.code == INVALID_FIELD
    return parse_invalid_fields(str(caught.value))


async def test_registration_refuses_allowlist_misses_private_and_loopback_addresses(
    open_world: OpenWorld,
) -> None:
    async with open_world(
        HAVEN_PUSH_INSECURE_ALLOW_LOOPBACK="0",
        HAVEN_PUSH_ALLOWED_HOSTS="localhost,10.0.0.7,*.example.com",
    ) as world:
        port = world.receiver.port
        assert await put_refused(world, "https://push.elsewhere.net/p") == (
            ["url"],
            "the host is not on the operator's allowlist",
        )
        assert await put_refused(world, "https://10.0.0.7/p") == (
            ["url"],
            "the host is a private address",
        )
        assert await put_refused(world, f"https://localhost:{port}/cd1/200") == (
            ["url"],
            "the host resolves to a loopback address",
        )
        assert (await put_refused(world, f"http://127.0.0.1:{port}/cd1/200"))[1] == (
            "only https URLs are allowed"
        )
        assert (await put_refused(world, "https://me:pw@push.example.com/p"))[1] == (
            "credentials are not allowed in the URL"
        )
        assert await world.db["push_subscriptions"].count_documents({}) == 0
        assert not any(
            line.get("event") == "push_insecure_loopback_allowed" for line in world.apps.logs.lines
        )


async def test_the_development_switch_is_announced_at_start(world: World) -> None:
    warning = await world.apps.wait_for_log("notification", event="push_insecure_loopback_allowed")
    assert warning["level"] == "warning"


async def test_a_subscription_whose_host_now_resolves_to_loopback_is_refused_at_send(
    open_world: OpenWorld,
) -> None:
    """Registered while the switch was on (as if DNS said otherwise then); sending checks the
    address again and dead-letters the push instead of connecting."""
    async with open_world(HAVEN_PUSH_ALLOWED_HOSTS="localhost") as world:
        url = f"https://localhost:{world.receiver.port}/cd1/200"
        await world.rpc.call(
            PUSH_PUT,
            PushSubscriptionPut(account_id="coach", device_id="cd1", url=url, secret="x" * 32),
        )
    async with open_world(
        HAVEN_PUSH_INSECURE_ALLOW_LOOPBACK="0", HAVEN_PUSH_ALLOWED_HOSTS="localhost"
    ) as world:
        await world.emit(stored("m1", ["cd1"], urgent=True))
        [dead] = await world.dead_letters(1)
        assert (dead["failure"], dead["attempt"]) == ("address_refused", 0)
        assert world.receiver.received == []
