"""Quiet hours against the real broker and store: pushes wait them out and go once per device
when they end, with two notification replicas and a restart in between; urgent messages pass
with `urgent_bypass`; WebSocket delivery never waits."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import REGISTRY

from services.gateway.sockets.router import DeliveryRouter
from shared.bus import Bus
from shared.notify_contracts import (
    SETTINGS_GET,
    SETTINGS_PUT,
    NotificationPreferences,
    NotificationSettingsPut,
    NotificationSettingsQuery,
    QuietHours,
)
from tests.integration.push_world import (
    COLLAPSE,
    OpenWorld,
    ShiftedClock,
    World,
    stored,
)
from tests.integration.test_deliveries_router import GatewayDouble

PUSHED = datetime.max.replace(tzinfo=UTC)  # a slot without `not_before`: nothing is due


def clock(at: datetime) -> str:
    return at.strftime("%H:%M")


async def quiet(world: World, start: datetime, end: datetime, *, bypass: bool = False) -> None:
    settings = NotificationPreferences(
        time_zone="UTC",
        quiet_hours=QuietHours(start=clock(start), end=clock(end)),
        urgent_bypass=bypass,
    )
    request = NotificationSettingsPut(account_id="coach", settings=settings)
    assert (await world.rpc.call(SETTINGS_PUT, request)).settings == settings


async def decided(world: World, devices: list[str], clock: ShiftedClock) -> list[dict[str, Any]]:
    """Fence: the devices' slots, once a sweeper has claimed every one after the last message
    owed to it (a message owed meanwhile makes a deferred slot due again) and let it go: it is
    not due by the replicas' clock (deferred), or has no `not_before` (pushed)."""
    async with asyncio.timeout(10):
        while True:
            slots = await world.db["push_slots"].find({}).to_list()
            if sorted(s["device_id"] for s in slots) == devices and all(
                "lease" not in s and s.get("not_before", PUSHED) > clock() for s in slots
            ):
                return slots
            await asyncio.sleep(0.02)


def deferred() -> float:
    value = REGISTRY.get_sample_value("haven_pushes_deferred_total", {"policy": "quiet_hours"})
    return value or 0.0


async def test_quiet_hours_defer_pushes_and_send_one_per_device_once_across_replicas(
    open_world: OpenWorld,
) -> None:
    # Quiet hours are HH:MM: the replicas run on a clock the test moves, so that their end (a
    # minute boundary) comes seconds after the deferral was checked, not up to a minute later.
    clock = ShiftedClock()
    async with open_world(clock=clock) as world:
        await world.apps.start_extra("notification", "b")
        await world.subscribe("cd1", "coach")
        await world.subscribe("cd2", "coach")
        end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=2)
        clock.reads(end - timedelta(seconds=30))  # far from the end however slow the set-up
        await quiet(world, clock() - timedelta(hours=1), end)
        before = deferred()

        for n in (1, 2):
            await world.emit(stored(f"m{n}", ["cd1", "cd2"], seq=n))
        slots = await decided(world, ["cd1", "cd2"], clock)  # fence: the sweepers looked at both
        assert all(s.get("not_before") == end for s in slots)
        assert world.receiver.received == []
        assert world.logged("push_queued") == 0
        assert deferred() >= before + 2

        # A restart while they wait: the deferral lives in the database, not in a timer.
        await world.apps.stop("notification")
        await world.apps.start_extra("notification", "c")

        clock.reads(end - timedelta(seconds=1))
        ends = time.monotonic() + (end - clock()).total_seconds()  # when the clock shows `end`
        await world.receiver.wait_for("cd1", 1, timeout=15)
        await world.receiver.wait_for("cd2", 1, timeout=10)
        assert clock() >= end
        assert all(push.at >= ends for push in world.receiver.received)  # none before the end

        # Fence: a later message (urgent: no collapse window holds it) to both devices goes out
        # through the same slots and replicas; a second copy of the deferred pushes would have
        # been queued by then, or would ride along in the later push's count.
        await world.emit(stored("m3", ["cd1", "cd2"], seq=3, urgent=True))
        await world.receiver.wait_for("cd1", 2, timeout=10)
        await world.receiver.wait_for("cd2", 2, timeout=10)
        for device in ("cd1", "cd2"):
            deferred_push, later = world.receiver.of(device)  # exactly once, two replicas sweep
            assert json.loads(deferred_push.body) == {
                "event": "new_message",
                "conversation_id": "c1",
                "unread": 2,
            }
            assert json.loads(later.body) == {
                "event": "new_message",
                "conversation_id": "c1",
                "unread": 3,
                "urgent": True,
            }
        await world.until_logged(4, "push_queued")  # a push is logged after it is handed on
        queued = [line for line in world.apps.logs.lines if line.get("event") == "push_queued"]
        assert [line["messages"] for line in queued] == [2, 2, 1, 1]


@asynccontextmanager
async def online(world: World, device: str) -> AsyncIterator[GatewayDouble]:
    """A gateway replica holding the device's socket."""
    bus = Bus(world.amqp_url, world.topology, f"{world.topology.namespace}gw")
    await bus.start()
    gateway = GatewayDouble(name="gw", router=DeliveryRouter(bus=bus))
    try:
        await asyncio.wait_for(gateway.router.start(gateway.inbox, gateway.on_rebound), 10)
        await gateway.router.bind(device)
        yield gateway
    finally:
        await gateway.router.close()
        await bus.close(1)


async def test_urgent_bypass_lets_an_urgent_message_through_and_sockets_never_wait(
    world: World,
) -> None:
    await world.subscribe("cd1", "coach")
    now = datetime.now(UTC)
    await quiet(world, now - timedelta(hours=1), now + timedelta(hours=1), bypass=True)
    query = NotificationSettingsQuery(account_id="coach")
    assert (await world.rpc.call(SETTINGS_GET, query)).settings.urgent_bypass

    async with online(world, "cd2") as gateway:
        await world.emit(stored("m1", ["cd1", "cd2"], seq=1))
        frame = await gateway.inbox.wait_for(lambda d: d.ack_message_id == "m1", timeout=5)
        assert frame.device_id == "cd2"  # the socket got it at once, quiet hours or not
        await world.until_logged(1, "push_deferred", policy="quiet_hours", device_id="cd1")
        assert world.receiver.of("cd1") == []  # the push waits

        await world.emit(stored("m2", ["cd1", "cd2"], seq=2, urgent=True))
        [push] = await world.receiver.wait_for("cd1", 1, timeout=COLLAPSE + 5)
        assert json.loads(push.body) == {
            "event": "new_message",
            "conversation_id": "c1",
            "unread": 2,
            "urgent": True,
        }

    # Without the bypass an urgent message waits like any other.
    await quiet(world, now - timedelta(hours=1), now + timedelta(hours=1), bypass=False)
    waits = world.logged("push_deferred", policy="quiet_hours", device_id="cd1")
    await world.emit(stored("m3", ["cd1"], seq=3, urgent=True))
    await world.until_logged(waits + 1, "push_deferred", policy="quiet_hours", device_id="cd1")
    assert len(world.receiver.of("cd1")) == 1


async def test_ending_quiet_hours_early_releases_deferred_pushes(world: World) -> None:
    await world.subscribe("cd1", "coach")
    now = datetime.now(UTC)
    await quiet(world, now - timedelta(hours=1), now + timedelta(hours=2))
    await world.emit(stored("m1", ["cd1"], seq=1))
    await world.until_logged(1, "push_deferred", policy="quiet_hours", device_id="cd1")
    assert world.receiver.of("cd1") == []

    none = NotificationSettingsPut(
        account_id="coach", settings=NotificationPreferences(time_zone="Europe/Berlin")
    )
    await world.rpc.call(SETTINGS_PUT, none)
    [push] = await world.receiver.wait_for("cd1", 1, timeout=5)
    assert json.loads(push.body)["unread"] == 1
