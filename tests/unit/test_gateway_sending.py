"""The gateway's send rules with hand-written fakes: milliseconds, no broker, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from services.gateway.edge.urgent import wants_urgent, with_crisis_resources
from services.gateway.model.principal import Principal
from services.gateway.model.records import Device, Relationship
from services.gateway.stores.directory import SendDirectory
from services.gateway.usecases.send import Sending
from shared.errors import (
    ApiError,
    ConflictError,
    DeviceMismatchError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    SignatureInvalidError,
    UnprocessableError,
)
from tests.unit.crypto_support import CONVERSATION, new_device, seal_for

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CRISIS = [{"name": "Line", "contact": "112", "description": "help", "region": "here"}]
COACH_PHONE, CLIENT_PHONE = new_device("coach_phone"), new_device("client_phone")


def stored(device: Any, account_id: str) -> Device:
    return Device(
        device_id=device.device_id,
        account_id=account_id,
        name="phone",
        identity_key=device.identity_public,
        kx_key=device.kx_public,
        kx_signature=b"\0" * 64,
        created_at=NOW,
        last_seen_at=NOW,
    )


@dataclass
class FakeRelationships:
    relationship: Relationship = field(
        default_factory=lambda: Relationship(CONVERSATION, "coach", "client", "active", NOW)
    )

    async def by_id(self, conversation_id: str) -> Relationship | None:
        return self.relationship if conversation_id == CONVERSATION else None


@dataclass
class FakeDevices:
    devices: list[Device] = field(
        default_factory=lambda: [stored(COACH_PHONE, "coach"), stored(CLIENT_PHONE, "client")]
    )

    async def active_of(self, account_id: str) -> list[Device]:
        return [d for d in self.devices if d.account_id == account_id]


@dataclass
class FakeLimits:
    refuse: bool = False

    async def check(self, limit: str, subject: str, now: datetime) -> None:
        if self.refuse:
            raise RateLimitedError(retry_after=2)


@dataclass
class RecordingCommands:
    sent: list[Any] = field(default_factory=list)

    async def send(self, command: Any) -> None:
        self.sent.append(command)


@dataclass
class World:
    relationships: FakeRelationships = field(default_factory=FakeRelationships)
    devices: FakeDevices = field(default_factory=FakeDevices)
    limits: FakeLimits = field(default_factory=FakeLimits)
    commands: RecordingCommands = field(default_factory=RecordingCommands)

    @property
    def sending(self) -> Sending:
        # The real directory over fake repositories, with nothing kept: each send reads.
        directory = SendDirectory(
            self.relationships,  # type: ignore[arg-type]
            self.devices,  # type: ignore[arg-type]
            ttl=0,
        )
        return Sending(
            directory,
            self.limits,  # type: ignore[arg-type]
            self.commands.send,
            NoAgreement(),  # type: ignore[arg-type]
        )


class NoAgreement:
    """No messaging agreement published: none required."""

    async def check_consent(self, who: Principal) -> None:
        return None


CLIENT = Principal("client", "client_phone", "client", "192.0.2.1")
COACH = Principal("coach", "coach_phone", "coach", "192.0.2.2")


def envelope(*devices: Any, urgent: bool = False) -> dict[str, Any]:
    return seal_for(list(devices), urgent=urgent).to_wire()


async def test_a_valid_send_is_queued_as_one_command_naming_both_participants() -> None:
    world = World()
    sent = await world.sending.send(CLIENT, CONVERSATION, envelope(CLIENT_PHONE, COACH_PHONE))
    [command] = world.commands.sent
    assert command.data.participants == ["coach", "client"]
    assert command.data.message_id == sent
    assert command.command_id == f"{CONVERSATION}:{sent}"


async def test_keys_must_name_exactly_the_active_devices() -> None:
    laptop = new_device("coach_laptop")
    world = World()
    world.devices.devices.append(stored(laptop, "coach"))
    stranger = new_device("stranger")
    with pytest.raises(DeviceMismatchError) as refused:
        await world.sending.send(CLIENT, CONVERSATION, envelope(CLIENT_PHONE, stranger))
    assert refused.value.extra == {
        "missing_devices": ["coach_laptop", "coach_phone"],
        "extra_devices": ["stranger"],
    }
    assert world.commands.sent == []


async def test_a_coach_cannot_mark_a_message_urgent() -> None:
    world = World()
    with pytest.raises(UnprocessableError):
        await world.sending.send(
            COACH, CONVERSATION, envelope(COACH_PHONE, CLIENT_PHONE, urgent=True)
        )


async def test_an_ended_conversation_is_read_only() -> None:
    world = World()
    world.relationships.relationship = Relationship(CONVERSATION, "coach", "client", "ended", NOW)
    with pytest.raises(ConflictError):
        await world.sending.send(CLIENT, CONVERSATION, envelope(CLIENT_PHONE, COACH_PHONE))
    assert world.commands.sent == []


async def test_over_the_rate_nothing_is_queued() -> None:
    world = World()
    world.limits.refuse = True
    with pytest.raises(RateLimitedError):
        await world.sending.send(CLIENT, CONVERSATION, envelope(CLIENT_PHONE, COACH_PHONE))
    assert world.commands.sent == []


async def test_the_edge_adds_crisis_resources_once_to_any_answer() -> None:
    async def current() -> list[dict[str, Any]]:
        return CRISIS

    assert wants_urgent({"urgent": True}) and not wants_urgent({"urgent": "true"})
    refused = await with_crisis_resources({"type": "error", "code": "conflict"}, current)
    assert refused["crisis_resources"] == CRISIS
    mine = [{"name": "own"}]
    kept = await with_crisis_resources({"crisis_resources": mine}, current)
    assert kept["crisis_resources"] == mine


@pytest.mark.parametrize(
    ("who", "conversation", "error"),
    [
        (Principal("outsider", "x", "client", "192.0.2.9"), CONVERSATION, NotFoundError),
        (CLIENT, "another_conversation", NotFoundError),
        (Principal("client", "client_tablet", "client", "192.0.2.1"), CONVERSATION, ForbiddenError),
    ],
)
async def test_outsiders_and_other_devices_are_refused(
    who: Principal, conversation: str, error: type[ApiError]
) -> None:
    world = World()
    with pytest.raises(error):
        await world.sending.send(who, conversation, envelope(CLIENT_PHONE, COACH_PHONE))
    assert world.commands.sent == []


async def test_an_envelope_signed_by_another_key_is_refused() -> None:
    world = World()
    impostor = new_device("client_phone")  # the right id, the wrong identity key
    with pytest.raises(SignatureInvalidError):
        await world.sending.send(CLIENT, CONVERSATION, envelope(impostor, COACH_PHONE))
