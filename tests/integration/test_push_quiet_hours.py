"""Quiet hours against the real broker and store: pushes wait them out and go once per device
when they end, with two notification replicas and a restart in between; urgent messages pass
with `urgent_bypass`; WebSocket delivery never waits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
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
    World,
    settle,
    stored,
)
from tests.integration.test_deliveries_router import GatewayDouble


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


def deferred() -> float:
    value = REGISTRY.get_sample_value("haven_pushes_deferred_total", {"policy": "quiet_hours"})
    return value or 0.0


@pytest.mark.timeout(150)
async def test_quiet_hours_defer_pushes_and_send_one_per_device_once_across_replicas(
    open_world: OpenWorld,
) -> None:
    async with open_world() as world:
        await world.apps.start_extra("notification", "b")
        await world.subscribe("cd1", "coach")
        await world.subscribe("cd2", "coach")
        now = datetime.now(UTC)
        end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        if end - now < timedelta(seconds=10):
            end += timedelta(minutes=1)
        await quiet(world, now - timedelta(hours=1), end)
        before = deferred()

        for n in (1, 2):
            await world.emit(stored(f"m{n}", ["cd1", "cd2"], seq=n))
        await settle()
        assert world.receiver.received == []
        slots = await world.db["push_slots"].find({}).to_list()
        assert sorted(s["device_id"] for s in slots) == ["cd1", "cd2"]
        assert all(s["not_before"] == end for s in slots)
        assert deferred() >= before + 2

        # A restart while they wait: the deferral lives in the database, not in a timer.
        await world.apps.stop("notification")
        await world.apps.start_extra("notification", "c")

        timeout = (end - datetime.now(UTC)).total_seconds() + 15
        await world.receiver.wait_for("cd1", 1, timeout=timeout)
        await world.receiver.wait_for("cd2", 1, timeout=10)
        await settle(2.0)
        assert datetime.now(UTC) >= end
        for device in ("cd1", "cd2"):
            [push] = world.receiver.of(device)  # exactly once, though two replicas sweep
            assert json.loads(push.body) == {
                "event": "new_message",
                "conversation_id": "c1",
                "unread": 2,
            }
        queued = [line for line in world.apps.logs.lines if line.get("event") == "push_queued"]
        assert len(queued) == 2


@asynccontextmanager
async def online(world: World, device: str) -> AsyncIterator[GatewayDouble]:
    """A gateway replica holding the device's socket."""
    bus = Bus(world.amqp_url, world.topology, f"{world.topology.namespace}gw")
    await bus.start()
    gateway = GatewayDouble(name="gw", router=DeliveryRouter(bus))
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
        await settle()
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
    await world.emit(stored("m3", ["cd1"], seq=3, urgent=True))
    await settle()
    assert len(world.receiver.of("cd1")) == 1


async def test_ending_quiet_hours_early_releases_deferred_pushes(world: World) -> None:
    await world.subscribe("cd1", "coach")
    now = datetime.now(UTC)
    await quiet(world, now - timedelta(hours=1), now + timedelta(hours=2))
    await world.emit(stored("m1", ["cd1"], seq=1))
    await settle()
    assert world.receiver.of("cd1") == []

    none = NotificationSettingsPut(
        account_id="coach", settings=NotificationPreferences(time_zone="Europe/Berlin")
    )
    await world.rpc.call(SETTINGS_PUT, none)
    [push] = await world.receiver.wait_for("cd1", 1, timeout=5)
    assert json.loads(push.body)["unread"] == 1
