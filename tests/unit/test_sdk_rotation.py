"""haven_client.rotation: when a kx key is due, and which old private keys a keystore keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from haven_client import DeviceKeys, KdfParams, Keystore
from haven_client.api import HavenApi
from haven_client.rotation import keep_fresh

NOW = datetime(2030, 3, 1, 12, tzinfo=UTC)


@dataclass
class Conversation:
    retention_days: int | None


@dataclass
class FakeApi:
    """The one call rotation makes of HavenApi."""

    retentions: list[int | None] = field(default_factory=list)

    async def conversations(self) -> list[Conversation]:
        return [Conversation(days) for days in self.retentions]


async def store_with_keys(tmp_path: Path, created: datetime) -> Keystore:
    store = await Keystore.create(tmp_path / "k.json", "a passphrase", KdfParams.minimal())
    store.set_device_keys(DeviceKeys.generate(), created.isoformat())
    store.state.device_id = "dev_1"
    return store


async def run(store: Keystore, api: FakeApi, now: datetime, rotations: list[Any]) -> bool:
    async def rotate() -> None:
        keys = store.device_keys()
        assert keys is not None
        store.set_device_keys(keys.with_new_kx(), now.isoformat())
        rotations.append(now)

    return await keep_fresh(store, cast(HavenApi, api), rotate, now)


async def test_a_key_rotates_once_it_is_a_week_old(tmp_path: Path) -> None:
    store, rotations = await store_with_keys(tmp_path, NOW), []
    assert not await run(store, FakeApi(), NOW + timedelta(days=6, hours=23), rotations)
    assert await run(store, FakeApi([None]), NOW + timedelta(days=7), rotations)
    assert len(store.state.old_kx) == 1 and store.state.old_kx_retired_at == [
        (NOW + timedelta(days=7)).isoformat()
    ]


async def test_a_keystore_that_never_noted_its_keys_age_starts_the_clock(tmp_path: Path) -> None:
    store, rotations = await store_with_keys(tmp_path, NOW), []
    store.state.kx_created_at = None  # written before rotation existed
    assert not await run(store, FakeApi(), NOW + timedelta(days=300), rotations)
    assert store.state.kx_created_at == (NOW + timedelta(days=300)).isoformat()


async def test_old_keys_stay_while_a_conversation_keeps_messages_or_its_retention_runs(
    tmp_path: Path,
) -> None:
    store, rotations = await store_with_keys(tmp_path, NOW), []
    day = timedelta(days=1)
    await run(store, FakeApi([None]), NOW + 7 * day, rotations)
    await run(store, FakeApi([None, 30]), NOW + 400 * day, rotations)
    retired = store.state.old_kx_retired_at
    assert retired == [(NOW + 7 * day).isoformat(), (NOW + 400 * day).isoformat()]  # no limit

    # The longest retention is 30 days: a key goes 30 days + a day's grace after retirement.
    just_before = NOW + 431 * day - timedelta(minutes=1)
    await run(store, FakeApi([30, 7]), just_before, rotations)  # also rotates (31 days old)
    assert store.state.old_kx_retired_at == [
        (NOW + 400 * day).isoformat(),
        just_before.isoformat(),
    ]
    await run(store, FakeApi([30, 7]), NOW + 431 * day + timedelta(minutes=1), rotations)
    assert store.state.old_kx_retired_at == [just_before.isoformat()]
    assert len(store.state.old_kx) == 1 and len(rotations) == 3


async def test_old_keys_of_unknown_age_count_as_retired_now(tmp_path: Path) -> None:
    store, rotations = await store_with_keys(tmp_path, NOW), []
    store.state.old_kx = [store.state.kx_private or ""]
    store.state.old_kx_retired_at = []  # a keystore from before retirement times were kept
    await run(store, FakeApi([1]), NOW + timedelta(days=1), rotations)
    assert len(store.state.old_kx) == 1
    assert store.state.old_kx_retired_at == [(NOW + timedelta(days=1)).isoformat()]
    await run(store, FakeApi([1]), NOW + timedelta(days=3, minutes=1), rotations)
    assert store.state.old_kx == []
