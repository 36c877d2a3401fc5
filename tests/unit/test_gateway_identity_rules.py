"""Invite, relationship and device rules of the gateway with hand-written fakes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.gateway.model.principal import Principal
from services.gateway.model.records import Contact, Device, Invite, Relationship
from services.gateway.usecases.devices import Devices
from services.gateway.usecases.relationships import Relationships
from services.gateway.usecases.retention import RetentionPolicy
from shared.errors import ForbiddenError, NotFoundError

NOW = datetime(2026, 1, 1, tzinfo=UTC)
OPERATOR = Principal("op", "op_phone", "operator", "192.0.2.1")
COACH = Principal("coach", "coach_phone", "coach", "192.0.2.2")
CLIENT = Principal("client", "client_phone", "client", "192.0.2.3")


@dataclass
class Recorder:
    """Stands in for the audit log, the outbox, the sockets and the limits: records calls."""

    calls: list[tuple[str, Any]] = field(default_factory=list)

    async def record(self, event_type: str, **fields: Any) -> None:
        self.calls.append(("audit", event_type))

    async def emit(self, event: Any) -> None:
        self.calls.append(("event", event.type))

    async def close_device(self, device_id: str, action: str = "revoke") -> None:
        self.calls.append(("close", (device_id, action)))

    async def check(self, limit: str, subject: str, now: datetime) -> None:
        self.calls.append(("limit", limit))

    def invalidate(self, device_id: str) -> None:
        self.calls.append(("invalidate", device_id))

    def named(self, kind: str) -> list[Any]:
        return [value for k, value in self.calls if k == kind]


@dataclass
class FakeInvites:
    stored: dict[str, Invite] = field(default_factory=dict)

    async def insert(self, code: str, invite: Invite) -> None:
        self.stored[code] = invite


@dataclass
class FakeRelationshipStore:
    relationships: dict[str, Relationship] = field(default_factory=dict)

    async def by_id(self, conversation_id: str) -> Relationship | None:
        return self.relationships.get(conversation_id)

    async def contact(self, a: str, b: str) -> Contact | None:
        shared = [r for r in self.relationships.values() if {a, b} == set(r.participants)]
        if not shared:
            return None
        if any(r.status != "ended" for r in shared):
            return Contact()
        return Contact(until=max(r.ended_at or NOW for r in shared))

    async def end(self, conversation_id: str, by: str, at: datetime) -> bool:
        current = self.relationships[conversation_id]
        if current.status == "ended":
            return False
        self.relationships[conversation_id] = Relationship(
            conversation_id, current.coach_account_id, current.client_account_id, "ended", NOW
        )
        return True


def relationships(
    store: FakeRelationshipStore, invites: FakeInvites, recorder: Recorder
) -> Relationships:
    return Relationships(
        relationships=store,  # type: ignore[arg-type]
        invites=invites,  # type: ignore[arg-type]
        accounts=None,  # type: ignore[arg-type] - accounts: not used by these rules
        outbox=recorder,  # type: ignore[arg-type]
        audit=recorder,  # type: ignore[arg-type]
        limits=recorder,  # type: ignore[arg-type]
        crisis=FakeCrisis(),  # type: ignore[arg-type]
        retention=RetentionPolicy(None, 1, None),
        invite_days=7,
    )


class FakeCrisis:
    async def configured(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("who", "kind", "allowed"),
    [
        (OPERATOR, "coach", True),
        (COACH, "client", True),
        (OPERATOR, "client", False),
        (COACH, "coach", False),
        (CLIENT, "client", False),
        (CLIENT, "coach", False),
    ],
)
async def test_operators_invite_coaches_and_coaches_invite_clients(
    who: Principal, kind: str, allowed: bool
) -> None:
    invites, recorder = FakeInvites(), Recorder()
    rules = relationships(FakeRelationshipStore(), invites, recorder)
    if allowed:
        out = await rules.create_invite(who, kind)
        assert invites.stored[out.code].created_by == who.account_id
        assert recorder.named("limit") == ["invites"]
    else:
        with pytest.raises(ForbiddenError):
            await rules.create_invite(who, kind)
        assert invites.stored == {} and recorder.named("limit") == []


async def test_ending_is_for_participants_only_and_announced_once() -> None:
    store, recorder = FakeRelationshipStore(), Recorder()
    store.relationships["c1"] = Relationship("c1", "coach", "client", "active", NOW)
    rules = relationships(store, FakeInvites(), recorder)
    with pytest.raises(NotFoundError):
        await rules.end(OPERATOR, "c1")
    await rules.end(CLIENT, "c1")
    await rules.end(COACH, "c1")  # already ended: nothing more
    assert recorder.named("event") == ["relationship.ended"]
    assert recorder.named("audit") == ["relationship_ended"]


@dataclass
class FakeDeviceStore:
    devices: dict[str, Device] = field(default_factory=dict)

    async def by_id(self, device_id: str) -> Device | None:
        return self.devices.get(device_id)

    async def revoke(
        self, device_id: str, at: datetime, *, unseen_since: datetime | None = None
    ) -> bool:
        device = self.devices[device_id]
        if not device.active or unseen_since not in (None, device.last_seen_at):
            return False
        self.devices[device_id] = Device(**{**device.__dict__, "revoked_at": at})
        return True

    async def seen_later_sibling(self, found: Device) -> bool:
        return True

    async def removal_announced(self, device_id: str) -> None:
        device = self.devices[device_id]
        self.devices[device_id] = Device(**{**device.__dict__, "removal_announced": True})


def device(device_id: str, account_id: str) -> Device:
    return Device(device_id, account_id, "phone", b"i" * 32, b"k" * 32, b"s" * 64, NOW, NOW)


def devices(store: FakeDeviceStore, recorder: Recorder) -> Devices:
    return Devices(
        devices=store,  # type: ignore[arg-type]
        accounts=None,  # type: ignore[arg-type] - accounts: not used by these rules
        relationships=FakeRelationshipStore(),  # type: ignore[arg-type]
        audit=recorder,  # type: ignore[arg-type]
        outbox=recorder,  # type: ignore[arg-type]
        sockets=recorder,  # type: ignore[arg-type]
        cache=recorder,  # type: ignore[arg-type]
        limits=recorder,  # type: ignore[arg-type]
        expiry_days=90,
    )


async def test_revoking_closes_sockets_announces_and_a_second_revoke_is_silent() -> None:
    store, recorder = FakeDeviceStore({"laptop": device("laptop", "coach")}), Recorder()
    rules = devices(store, recorder)
    await rules.revoke_own(COACH, "laptop", reason="revoked_by_owner")
    first = list(recorder.calls)
    assert ("close", ("laptop", "revoke")) in first
    assert ("event", "device.removed") in first and ("audit", "device_removed") in first
    await rules.revoke_own(COACH, "laptop", reason="revoked_by_owner")
    assert recorder.calls == first  # no event, no audit, no limit token


async def test_nobody_revokes_or_sees_another_accounts_unconnected_devices() -> None:
    store, recorder = FakeDeviceStore({"laptop": device("laptop", "coach")}), Recorder()
    rules = devices(store, recorder)
    with pytest.raises(NotFoundError):
        await rules.revoke_own(CLIENT, "laptop", reason="revoked_by_owner")
    with pytest.raises(NotFoundError):
        await rules.visible_device(CLIENT, "laptop")  # never connected: not even its existence
    assert (await rules.visible_device(COACH, "laptop")).device_id == "laptop"
    assert recorder.calls == []


@dataclass
class RefreshedWhileChecked(FakeDeviceStore):
    """A refresh of the device lands between the expiry's read and its revocation."""

    async def seen_later_sibling(self, found: Device) -> bool:
        self.devices[found.device_id] = replace(found, last_seen_at=NOW + timedelta(days=200))
        return True


async def test_an_expiry_loses_to_a_use_that_came_first() -> None:
    due = replace(
        device("laptop", "coach"),
        expiry_warned_for=NOW,
        expiry_due_at=NOW + timedelta(days=104),
    )
    store, recorder = RefreshedWhileChecked({"laptop": due}), Recorder()
    rules = devices(store, recorder)
    assert not await rules.expire_if_due("laptop", NOW + timedelta(days=105))
    assert store.devices["laptop"].active
    assert recorder.calls == []  # no socket closed, nothing announced or audited
    # Unused, the same check signs it out.
    unused, recorder = FakeDeviceStore({"laptop": due}), Recorder()
    assert await devices(unused, recorder).expire_if_due("laptop", NOW + timedelta(days=105))
    assert not unused.devices["laptop"].active
    assert ("audit", "device_removed") in recorder.calls
