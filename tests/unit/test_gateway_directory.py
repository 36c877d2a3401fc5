"""The send directory's cache rules with fake repositories: fills, invalidation, races."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.gateway.model.records import Device, Relationship
from services.gateway.stores.directory import SendDirectory, VersionedCache

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def device(device_id: str, account_id: str) -> Device:
    return Device(device_id, account_id, "phone", b"i" * 32, b"k" * 32, b"s" * 64, NOW, NOW)


@dataclass
class Store:
    relationships: dict[str, Relationship] = field(default_factory=dict)
    devices: list[Device] = field(default_factory=list)
    reads: int = 0
    gate: asyncio.Event | None = None

    async def by_id(self, conversation_id: str) -> Relationship | None:
        self.reads += 1
        found = self.relationships.get(conversation_id)
        if self.gate is not None:
            await self.gate.wait()
        return found

    async def active_of(self, account_id: str) -> list[Device]:
        self.reads += 1
        return [d for d in self.devices if d.account_id == account_id]


def directory(store: Store) -> SendDirectory:
    return SendDirectory(store, store)  # type: ignore[arg-type]


async def test_steady_state_sends_read_nothing() -> None:
    store = Store({"c": Relationship("c", "coach", "client", "active", NOW)})
    store.devices = [device("p1", "coach"), device("p2", "client")]
    cached = directory(store)
    for _ in range(5):
        assert (await cached.relationship("c")) is not None
        assert [d.device_id for d in await cached.active_devices(["coach", "client"])] == [
            "p1",
            "p2",
        ]
    assert store.reads == 3  # one relationship, two device sets


async def test_events_drop_exactly_what_they_name() -> None:
    store = Store({"c": Relationship("c", "coach", "client", "active", NOW)})
    store.devices = [device("p1", "coach"), device("p2", "client")]
    cached = directory(store)
    await cached.relationship("c")
    await cached.active_devices(["coach", "client"])
    store.devices.append(device("laptop", "coach"))
    cached.forget_event({"account_id": "coach", "device_id": "laptop"})
    assert len(await cached.active_devices(["coach"])) == 2
    store.relationships["c"] = Relationship("c", "coach", "client", "ended", NOW)
    cached.forget_event({"conversation_id": "c"})
    found = await cached.relationship("c")
    assert found is not None and found.status == "ended"
    store.devices = [d for d in store.devices if d.device_id != "p2"]
    cached.forget_device("p2")  # the device cache knows only the device: its account follows
    assert await cached.active_devices(["client"]) == []


async def test_a_load_that_raced_with_an_invalidation_is_not_kept() -> None:
    store = Store({"c": Relationship("c", "coach", "client", "active", NOW)})
    store.gate = asyncio.Event()
    cached = directory(store)
    loading = asyncio.create_task(cached.relationship("c"))
    await asyncio.sleep(0)
    store.relationships["c"] = Relationship("c", "coach", "client", "ended", NOW)
    cached.forget_conversation("c")  # the event arrived while the old row was in flight
    store.gate.set()
    stale = await loading
    assert stale is not None and stale.status == "active"
    fresh = await cached.relationship("c")
    assert fresh is not None and fresh.status == "ended"


async def test_clearing_forgets_everything_and_unknown_keys_are_not_cached() -> None:
    store = Store()
    cached = directory(store)
    assert await cached.relationship("nope") is None
    assert await cached.relationship("nope") is None
    assert store.reads == 2
    store.relationships["c"] = Relationship("c", "coach", "client", "active", NOW)
    await cached.relationship("c")
    cached.clear()
    await cached.relationship("c")
    assert store.reads == 4


async def test_entries_expire_as_a_backstop() -> None:
    cache: VersionedCache[str, int] = VersionedCache(ttl=0.0)
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        return loads

    assert await cache.get("k", load) == 1
    assert await cache.get("k", load) == 2
