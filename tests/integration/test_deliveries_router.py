"""DeliveryRouter against the real broker: per-device routing between gateway replicas,
offline detection, socket controls, concurrency, and recovery from a dropped connection."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from services.gateway.sockets.router import DeliveryRouter
from shared import deliveries
from shared.bus import Bus
from shared.deliveries import DeviceDelivery, publish_deliveries, publish_delivery
from shared.errors import UnavailableError
from shared.frames import ErrorFrame, Resync
from shared.topology import Topology
from tools.infra import Infra

Predicate = Callable[[DeviceDelivery], bool]


class Inbox:
    """What a gateway double received, with waits that time out instead of sleeping."""

    def __init__(self) -> None:
        self.items: list[DeviceDelivery] = []
        self._changed = asyncio.Event()

    async def __call__(self, delivery: DeviceDelivery) -> None:
        self.items.append(delivery)
        self._changed.set()

    async def wait_for(self, predicate: Predicate, timeout: float = 10.0) -> DeviceDelivery:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = next((d for d in self.items if predicate(d)), None)
            if found is not None:
                return found
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"nothing matching within {timeout}s; got {self.items}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def frames(self, device_id: str, frame_type: str | None = None) -> list[dict[str, Any]]:
        """The device's frames as it would read them."""
        return [
            d.frame.wire()
            for d in self.items
            if d.device_id == device_id
            and d.frame is not None
            and (frame_type is None or d.frame.type == frame_type)
        ]


@dataclass
class GatewayDouble:
    """A DeliveryRouter on its own connection, standing in for one gateway replica."""

    name: str
    router: DeliveryRouter
    inbox: Inbox = field(default_factory=Inbox)
    rebounds: int = 0
    rebound: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_rebound(self) -> None:
        self.rebounds += 1
        self.rebound.set()


GatewayFactory = Callable[[str], Awaitable[GatewayDouble]]


def frame_delivery(device_id: str, marker: str | None = None) -> DeviceDelivery:
    """A `resync`, or a frame that carries `marker`: an `error` frame, which notification
    never sends, so the tests that count real frames do not see it."""
    frame = Resync() if marker is None else ErrorFrame(code="fence", detail=marker)
    return DeviceDelivery(
        delivery_id=uuid.uuid4().hex, device_id=device_id, kind="frame", frame=frame
    )


def marked(delivery: DeviceDelivery, marker: str) -> bool:
    return isinstance(delivery.frame, ErrorFrame) and delivery.frame.detail == marker


async def fence(publisher: Bus, gateway: GatewayDouble, device_id: str) -> None:
    """Publish a marker to a device bound on `gateway` and wait for it: anything routed to
    that gateway's queue before the marker has been handed over by then (queues are FIFO)."""
    marker = uuid.uuid4().hex
    assert await publish_delivery(publisher, frame_delivery(device_id, marker))
    await gateway.inbox.wait_for(lambda d: marked(d, marker))


async def close_connection_named(name: str) -> None:
    """Have the broker force-close one client connection, found by its connection_name."""
    listing = await asyncio.to_thread(
        subprocess.run,
        ["rabbitmqctl", "-q", "list_connections", "--no-table-headers", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
    )
    needle = f'{{"connection_name","{name}"}}'
    pids = [line.split("\t")[0] for line in listing.stdout.splitlines() if needle in line]
    assert len(pids) == 1, f"expected one connection named {name}, found {pids}"
    await asyncio.to_thread(
        subprocess.run,
        ["rabbitmqctl", "close_connection", pids[0], "test: forced reconnect"],
        capture_output=True,
        check=True,
    )


async def delivery_bindings(topology: Topology) -> list[str]:
    listing = await asyncio.to_thread(
        subprocess.run,
        ["rabbitmqctl", "-q", "list_bindings", "--no-table-headers", "source_name", "routing_key"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split("\t") for line in listing.stdout.splitlines()]
    return sorted(key for source, key in rows if source == topology.deliveries)


@pytest.fixture
async def publisher(infra: Infra, clean_broker: Topology) -> AsyncIterator[Bus]:
    bus = Bus(infra.amqp_url, clean_broker, f"{clean_broker.namespace}notification")
    await bus.start()
    yield bus
    await bus.close(1)


@pytest.fixture
async def gateways(infra: Infra, clean_broker: Topology) -> AsyncIterator[GatewayFactory]:
    made: list[tuple[GatewayDouble, Bus]] = []

    async def make(name: str) -> GatewayDouble:
        bus = Bus(infra.amqp_url, clean_broker, f"{clean_broker.namespace}{name}")
        await bus.start()
        # A bind made while the connection is down waits for the reconnect: on a loaded machine
        # that took longer than the 5 s a socket waits in production.
        router = DeliveryRouter(bus=bus, bind_timeout=20)
        gateway = GatewayDouble(name=f"{clean_broker.namespace}{name}", router=router)
        made.append((gateway, bus))
        await asyncio.wait_for(gateway.router.start(gateway.inbox, gateway.on_rebound), 10)
        return gateway

    yield make
    for gateway, bus in reversed(made):
        await gateway.router.close()
        await bus.close(1)


async def test_each_router_receives_only_its_own_devices_deliveries(
    publisher: Bus, gateways: GatewayFactory, clean_broker: Topology
) -> None:
    a, b = await gateways("gw-a"), await gateways("gw-b")
    await a.router.bind("dev-a")
    await b.router.bind("dev-b")

    assert await publish_delivery(publisher, frame_delivery("dev-a", marker="for-a"))
    assert await publish_delivery(publisher, frame_delivery("dev-b", marker="for-b"))
    await a.inbox.wait_for(lambda d: marked(d, "for-a"))
    await b.inbox.wait_for(lambda d: marked(d, "for-b"))
    await fence(publisher, a, "dev-a")
    await fence(publisher, b, "dev-b")

    assert {d.device_id for d in a.inbox.items} == {"dev-a"}
    assert {d.device_id for d in b.inbox.items} == {"dev-b"}
    assert await delivery_bindings(clean_broker) == ["device.dev-a", "device.dev-b"]
    assert a.router.queue_name != b.router.queue_name


async def test_unbound_or_never_bound_device_is_reported_offline(
    publisher: Bus, gateways: GatewayFactory, clean_broker: Topology
) -> None:
    a = await gateways("gw-a")
    assert not await publish_delivery(publisher, frame_delivery("never-bound"))
    await a.router.bind("dev-1")
    assert await publish_delivery(publisher, frame_delivery("dev-1"))
    await a.router.unbind("dev-1")
    assert not await publish_delivery(publisher, frame_delivery("dev-1"))
    assert await delivery_bindings(clean_broker) == []
    assert a.router.bound == frozenset()


async def test_a_batch_for_one_device_arrives_whole_and_in_order_or_returns_whole(
    publisher: Bus, gateways: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = await gateways("gw-a")
    await a.router.bind("dev-1")
    markers = [f"batch-{i}" for i in range(5)]
    batch = [frame_delivery("dev-1", m) for m in markers]
    monkeypatch.setattr(deliveries, "BATCH_BYTES", len(batch[0].model_dump_json()) * 3)

    assert await publish_deliveries(publisher, "dev-1", batch) == [True] * 5  # in two messages
    await a.inbox.wait_for(lambda d: marked(d, markers[-1]))
    assert [d.delivery_id for d in a.inbox.items] == [d.delivery_id for d in batch]

    unbound = [frame_delivery("dev-2", m) for m in markers[:2]]
    assert await publish_deliveries(publisher, "dev-2", unbound) == [False, False]
    with pytest.raises(ValueError, match="one device"):
        await publish_deliveries(publisher, "dev-1", [*batch[:1], *unbound])


async def test_control_reaches_the_replica_holding_the_device_and_no_other(
    publisher: Bus, gateways: GatewayFactory
) -> None:
    a, b = await gateways("gw-a"), await gateways("gw-b")
    await a.router.bind("dev-1")
    await b.router.bind("dev-2")

    await b.router.publish_control("dev-1", "replace", "socket-new")
    await b.router.publish_control("dev-nobody", "revoke")  # nobody bound: not an error
    control = await a.inbox.wait_for(lambda d: d.kind == "control")
    await fence(publisher, b, "dev-2")

    assert control.device_id == "dev-1"
    assert control.control is not None
    assert (control.control.action, control.control.socket_id) == ("replace", "socket-new")
    assert all(d.kind == "frame" for d in b.inbox.items)


async def test_concurrent_binds_and_unbinds_leave_exactly_the_expected_bindings(
    publisher: Bus, gateways: GatewayFactory, clean_broker: Topology
) -> None:
    a = await gateways("gw-a")
    devices = [f"dev-{i}" for i in range(40)]
    await asyncio.gather(*(a.router.bind(d) for d in devices))
    await asyncio.gather(
        *(a.router.unbind(d) for d in devices[::2]),
        *(a.router.bind(d) for d in devices[1::2]),  # re-binding is idempotent
    )

    routed = await asyncio.gather(
        *(publish_delivery(publisher, frame_delivery(d)) for d in devices)
    )
    assert routed == [i % 2 == 1 for i in range(len(devices))]
    assert await delivery_bindings(clean_broker) == sorted(f"device.{d}" for d in devices[1::2])


async def test_router_rebinds_after_its_connection_is_dropped(
    publisher: Bus, gateways: GatewayFactory, clean_broker: Topology
) -> None:
    a = await gateways("gw-a")
    await a.router.bind("dev-kept")
    await a.router.bind("dev-dropped")
    first_queue = a.router.queue_name

    await close_connection_named(a.name)
    # While the connection is down, a new socket binds and an old one goes away.
    binding = asyncio.create_task(a.router.bind("dev-new"))
    await a.router.unbind("dev-dropped")
    await asyncio.wait_for(a.rebound.wait(), 20)
    await asyncio.wait_for(binding, 10)

    assert a.rebounds == 1
    assert a.router.ready
    assert a.router.queue_name != first_queue
    assert a.router.bound == {"dev-kept", "dev-new"}
    assert await publish_delivery(publisher, frame_delivery("dev-kept", marker="after"))
    assert await publish_delivery(publisher, frame_delivery("dev-new", marker="new"))
    assert not await publish_delivery(publisher, frame_delivery("dev-dropped"))
    await a.inbox.wait_for(lambda d: marked(d, "after"))
    await a.inbox.wait_for(lambda d: marked(d, "new"))
    assert await delivery_bindings(clean_broker) == ["device.dev-kept", "device.dev-new"]


async def test_bind_fails_with_unavailable_and_forgets_the_device_when_no_queue_comes_back(
    infra: Infra, clean_broker: Topology
) -> None:
    bus = Bus(infra.amqp_url, clean_broker, f"{clean_broker.namespace}gw-lonely")
    await bus.start()
    router = DeliveryRouter(bus=bus, bind_timeout=0.5)
    inbox = Inbox()

    async def on_rebound() -> None:
        return None

    await router.start(inbox, on_rebound)
    await router.close()  # the queue is gone and nothing will bring it back
    with pytest.raises(UnavailableError):
        await router.bind("dev-1")
    assert router.bound == frozenset()
    await bus.close(1)
