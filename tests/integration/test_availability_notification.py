"""Coach availability in the notification service, in-process against the real broker and
store: availability.put/get over the real RPC, and `coach_away` frames to the client's devices
through two DeliveryRouters standing in for gateway replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from services.gateway.sockets.router import DeliveryRouter
from services.notification.push.wiring import deferrals_key
from shared.availability_contracts import (
    AVAILABILITY_GET,
    AVAILABILITY_PUT,
    Availability,
    AvailabilityPut,
    AvailabilityQuery,
)
from shared.bus import Bus
from shared.events import (
    DeviceAdded,
    DeviceData,
    MessageStored,
    RelationshipCreated,
    RelationshipData,
    StoredMessageData,
)
from shared.notify_contracts import (
    SETTINGS_PUT,
    NotificationPreferences,
    NotificationSettingsPut,
    parse_invalid_fields,
)
from shared.rpc import RpcClient, RpcError
from shared.topology import Topology
from tests.integration.test_deliveries_router import GatewayDouble, fence
from tests.support.inprocess import AppStack
from tests.support.logcapture import LogCapture
from tools.infra import Infra

# Berlin office hours; the messages below are stored in March 2030 (CET, UTC+1; CEST from
# Sunday 31 March). Every stretch ends long after the real clock's now.
SATURDAY = datetime(2030, 3, 2, 10, 0, tzinfo=UTC)
SUNDAY = datetime(2030, 3, 3, 20, 0, tzinfo=UTC)
MONDAY_MORNING = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)  # 10:00 in Berlin: open
MONDAY_EVENING = datetime(2030, 3, 4, 17, 30, tzinfo=UTC)  # 18:30: closed
ENVELOPE = {"message_id": "m", "alg": "haven-v1", "ciphertext": "c2VjcmV0", "keys": {}}


def office_hours(**changes: Any) -> dict[str, Any]:
    return {
        "time_zone": "Europe/Berlin",
        "weekly": [
            {"day": day, "start": "09:00", "end": "17:00"}
            for day in ("mon", "tue", "wed", "thu", "fri")
        ],
        "response_time_hours": 48,
        "away_message": "I answer on weekdays, 9 to 5.",
    } | changes


@pytest.fixture
async def notification(
    stack_environment: dict[str, str], clean_broker: Topology, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[AppStack]:
    """The notification service alone, in this loop: the routers below play the gateways."""
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
    """coach (cd1 on A) and client (kd1 on A, kd2 on B) share conversation c1."""

    service: AppStack
    events: Bus
    a: GatewayDouble
    b: GatewayDouble

    async def emit(self, event: Any, timeout: float = 10.0) -> None:
        """Publish an event and wait until notification has handled it (once more)."""
        before = self.handled(event.event_id)
        await self.events.publish_event(event)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.handled(event.event_id) == before:
            assert loop.time() < deadline, f"{event.type} {event.event_id} not handled in time"
            await asyncio.sleep(0.02)

    def handled(self, event_id: str) -> int:
        return sum(
            1
            for name in self.service.replicas
            for line in self.service.log_lines(name)
            if line.get("event") == "event_handled" and line.get("event_id") == event_id
        )

    async def put(self, account_id: str, availability: dict[str, Any]) -> dict[str, Any]:
        request = AvailabilityPut(
            account_id=account_id, availability=Availability.model_validate(availability)
        )
        reply = await RpcClient.of(self.events).call(AVAILABILITY_PUT, request)
        return reply.body()

    async def get(self, account_id: str) -> dict[str, Any]:
        query = AvailabilityQuery(account_id=account_id)
        return (await RpcClient.of(self.events).call(AVAILABILITY_GET, query)).body()

    async def settle(self) -> None:
        """Everything published before this has reached both gateways."""
        await fence(self.events, self.a, "kd1")
        await fence(self.events, self.b, "kd2")

    def away_frames(self) -> dict[str, list[dict[str, object]]]:
        return {
            "kd1": self.a.inbox.frames("kd1", "coach_away"),
            "kd2": self.b.inbox.frames("kd2", "coach_away"),
            "cd1": self.a.inbox.frames("cd1", "coach_away"),
        }


@pytest.fixture
async def world(
    notification: AppStack, infra: Infra, clean_broker: Topology
) -> AsyncIterator[World]:
    buses = [
        Bus(infra.amqp_url, clean_broker, f"{clean_broker.namespace}{role}")
        for role in ("events", "gw-a", "gw-b")
    ]
    for bus in buses:
        await bus.start()
    a = GatewayDouble(name="gw-a", router=DeliveryRouter(buses[1]))
    b = GatewayDouble(name="gw-b", router=DeliveryRouter(buses[2]))
    for gateway in (a, b):
        await asyncio.wait_for(gateway.router.start(gateway.inbox, gateway.on_rebound), 10)
    world = World(notification, buses[0], a, b)
    await world.emit(
        RelationshipCreated(
            event_id="created-c1",
            data=RelationshipData(
                conversation_id="c1", coach_account_id="coach", client_account_id="client"
            ),
        )
    )
    for account, device in [("coach", "cd1"), ("client", "kd1"), ("client", "kd2")]:
        await world.emit(
            DeviceAdded(
                event_id=f"add-{device}", data=DeviceData(account_id=account, device_id=device)
            )
        )
    await a.router.bind("cd1")
    await a.router.bind("kd1")
    await b.router.bind("kd2")
    yield world
    for gateway in (a, b):
        await gateway.router.close()
    for bus in reversed(buses):
        await bus.close(1)


def stored(message_id: str, at: datetime, sender: str = "client") -> MessageStored:
    device = "kd1" if sender == "client" else "cd1"
    return MessageStored(
        event_id=f"stored-{message_id}",
        data=StoredMessageData(
            conversation_id="c1",
            message_id=message_id,
            seq=1,
            sender_account_id=sender,
            sender_device_id=device,
            server_ts=at,
            urgent=False,
            envelope=ENVELOPE,
            recipient_device_ids=["cd1", "kd1", "kd2"],
        ),
    )


async def test_availability_put_and_get_over_rpc(world: World) -> None:
    always = [{"day": day, "start": "00:00", "end": "24:00"} for day in ("mon", "sat", "sun")]
    leave = {
        "from": "2026-01-01T00:00:00Z",
        "until": "2099-01-05T10:00:00+01:00",  # a Monday
        "message": "On a long leave.",
        "backup_contact": None,
    }
    put = await world.put("coach", office_hours(weekly=always, away=leave))
    got = await world.get("coach")
    assert put == got
    assert got == office_hours(weekly=always) | {
        "away": leave | {"from": "2026-01-01T00:00:00Z", "until": "2099-01-05T09:00:00Z"},
        "available_now": False,
        "next_available_at": "2099-01-05T09:00:00Z",
    }
    never_set = await world.get("someone-else")
    assert never_set["available_now"] is True and never_set["time_zone"] is None


async def test_next_available_at_over_rpc_crosses_the_spring_forward_change(world: World) -> None:
    # Away until Friday 2030-03-29 after hours; Berlin moves to CEST on Sunday 31 March, so
    # Monday 09:00 is 07:00 UTC, not 08:00.
    leave = {
        "from": "2026-01-01T00:00:00Z",
        "until": "2030-03-29T18:00:00+01:00",
        "message": "Back after Easter.",
        "backup_contact": "Dr. Lee",
    }
    got = await world.put("coach", office_hours(away=leave))
    assert got["next_available_at"] == "2030-04-01T07:00:00Z"
    assert got["away"]["backup_contact"] == "Dr. Lee"


async def test_invalid_availability_is_refused_with_the_field_named(world: World) -> None:
    leave = {"from": "2030-01-01T00:00:00Z", "until": "2030-01-02T00:00:00Z", "message": "x"}
    wire = {"account_id": "coach", "availability": office_hours(away=leave)}
    with pytest.raises(RpcError) as caught:
        await RpcClient.of(world.events).call(AVAILABILITY_PUT.name, wire)
    assert caught.value.code == "invalid_field"
    fields, _ = parse_invalid_fields(str(caught.value))
    assert fields == ["availability.away.backup_contact"]
    assert (await world.get("coach"))["time_zone"] is None  # nothing was stored


async def test_a_clients_messages_outside_hours_get_one_coach_away_per_stretch(
    world: World,
) -> None:
    await world.put("coach", office_hours())
    await world.emit(stored("m1", SATURDAY))
    await world.emit(stored("m2", SUNDAY))  # the same weekend
    await world.emit(stored("m1", SATURDAY))  # redelivered
    await world.settle()
    weekend = {
        "type": "coach_away",
        "conversation_id": "c1",
        "away_message": "I answer on weekdays, 9 to 5.",
        "response_time_hours": 48,
        "next_available_at": "2030-03-04T08:00:00Z",  # Monday 09:00 CET
    }
    assert world.away_frames() == {"kd1": [weekend], "kd2": [weekend], "cd1": []}

    await world.emit(stored("m3", MONDAY_MORNING))  # open: nothing
    await world.emit(stored("m4", MONDAY_EVENING))  # a new stretch after the opening
    await world.settle()
    evening = weekend | {"next_available_at": "2030-03-05T08:00:00Z"}
    assert world.away_frames()["kd2"] == [weekend, evening]


async def test_the_coachs_own_messages_and_messages_inside_hours_bring_no_notice(
    world: World,
) -> None:
    await world.put("coach", office_hours())
    await world.emit(stored("m1", SATURDAY, sender="coach"))
    await world.emit(stored("m2", MONDAY_MORNING))
    await world.settle()
    assert world.away_frames() == {"kd1": [], "kd2": [], "cd1": []}
    message_frames = world.b.inbox.frames("kd2", "message")
    assert len(message_frames) == 2  # both messages were delivered all the same


async def test_during_away_the_client_gets_the_away_message_and_backup_contact(
    world: World,
) -> None:
    leave = {
        "from": "2030-03-04T00:00:00+01:00",
        "until": "2030-03-06T12:00:00+01:00",
        "message": "At a retreat until Wednesday noon.",
        "backup_contact": "Sam (practice lead), 555-0100",
    }
    await world.put("coach", office_hours(away=leave))
    await world.emit(stored("m1", MONDAY_MORNING))
    await world.settle()
    assert world.away_frames()["kd2"] == [
        {
            "type": "coach_away",
            "conversation_id": "c1",
            "away_message": "At a retreat until Wednesday noon.",
            "response_time_hours": 48,
            "next_available_at": "2030-03-06T11:00:00Z",
            "backup_contact": "Sam (practice lead), 555-0100",
        }
    ]


async def test_two_replicas_send_one_notice_for_a_burst_of_messages(world: World) -> None:
    await world.service.start_extra("notification", "2")
    await world.put("coach", office_hours())
    burst = [stored(f"b{n}", SATURDAY) for n in range(12)]
    await asyncio.gather(*(world.emit(event) for event in burst))
    await world.settle()
    replicas_used = {
        name
        for name in world.service.replicas
        for line in world.service.log_lines(name)
        if line.get("event") == "event_handled" and str(line.get("event_id")).startswith("stored-b")
    }
    assert len(world.away_frames()["kd2"]) == 1
    assert len(world.away_frames()["kd1"]) == 1
    assert replicas_used == {"notification", "notification-2"}


async def test_the_push_engine_asks_coach_hours_and_urgent_bypass_is_the_coachs_setting(
    world: World,
) -> None:
    app = world.service.replicas["notification"].runners[0].app
    coach_hours = app[deferrals_key]["coach_hours"]
    monday = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
    await world.put("coach", office_hours())
    assert await coach_hours("coach", "cd1", "c1", False, SATURDAY) == monday
    assert await coach_hours("coach", "cd1", "c1", True, SATURDAY) == monday  # not opted in
    assert await coach_hours("coach", "cd1", "c1", False, MONDAY_MORNING) is None
    assert await coach_hours("client", "kd2", "c1", False, SATURDAY) is None

    opted_in = NotificationPreferences(time_zone="Europe/Berlin", urgent_bypass=True)
    await RpcClient.of(world.events).call(
        SETTINGS_PUT, NotificationSettingsPut(account_id="coach", settings=opted_in)
    )
    assert await coach_hours("coach", "cd1", "c1", True, SATURDAY) is None
    assert await coach_hours("coach", "cd1", "c1", False, SATURDAY) == monday
