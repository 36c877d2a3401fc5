"""What every send checks, from memory: a conversation's relationship and the active devices (and
backup keys) of its participants, refilled from MongoDB after any event that may have changed them.

Invalidation is event-driven. This replica forgets an entry the moment it writes a change
(`Outbox.emit` and `DeviceCache.invalidate` call in here before anything is published); every
other replica forgets it when the event arrives on its invalidation queue
(services/gateway/stores/invalidation.py), which binds `device.*`, `relationship.*` and `account.*`:
an event naming a `conversation_id` drops that conversation, one naming an `account_id` drops
that account's devices, so new event types of those families invalidate with no change here.
When that queue is lost and re-declared, everything is dropped (events may have been missed).
A load that raced with an invalidation is not kept (a per-key version guards every fill), and
entries also expire after `ttl` seconds as a backstop.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

from services.gateway.model.records import Device, Relationship
from services.gateway.stores.accounts import DeviceRepository
from services.gateway.stores.backups import BackupRepository
from services.gateway.stores.relationships import RelationshipRepository

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

TTL_SECONDS = 60.0
MAX_ENTRIES = 100_000


class VersionedCache(Generic[K, V]):
    """A map whose fills are dropped if the key was invalidated while they were loading."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._entries: dict[K, tuple[float, V]] = {}
        self._versions: dict[K, int] = {}
        self._epoch = 0

    async def get(self, key: K, load: Callable[[], Awaitable[V | None]]) -> V | None:
        now = time.monotonic()
        found = self._entries.get(key)
        if found is not None and now - found[0] < self._ttl:
            return found[1]
        version, epoch = self._versions.get(key, 0), self._epoch
        value = await load()
        if value is not None and self._versions.get(key, 0) == version and self._epoch == epoch:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now, value)
        return value

    def invalidate(self, key: K) -> None:
        self._entries.pop(key, None)
        self._versions[key] = self._versions.get(key, 0) + 1
        if len(self._versions) > MAX_ENTRIES:
            self.clear()

    def clear(self) -> None:
        self._entries.clear()
        self._versions.clear()
        self._epoch += 1


class SendDirectory:
    def __init__(
        self,
        *,
        relationships: RelationshipRepository,
        devices: DeviceRepository,
        backups: BackupRepository | None = None,
        ttl: float = TTL_SECONDS,
    ) -> None:
        self._relationships = relationships
        self._devices = devices
        self._backups = backups
        # The account's backup key id, if any (a recipient like a device); () for none.
        self._account_backup: VersionedCache[str, tuple[str, ...]] = VersionedCache(ttl)
        self._conversations: VersionedCache[str, Relationship] = VersionedCache(ttl)
        self._account_devices: VersionedCache[str, tuple[Device, ...]] = VersionedCache(ttl)
        self._account_of_device: dict[str, str] = {}

    async def relationship(self, conversation_id: str) -> Relationship | None:
        return await self._conversations.get(
            conversation_id, lambda: self._relationships.by_id(conversation_id)
        )

    async def active_devices(self, account_ids: list[str]) -> list[Device]:
        """The active devices of the accounts, in account order."""
        found: list[Device] = []
        for account_id in account_ids:
            load = functools.partial(self._load_devices, account_id)
            found += await self._account_devices.get(account_id, load) or ()
        return found

    async def backup_ids(self, account_ids: list[str]) -> list[str]:
        """The current backup key ids of the accounts (recipients beside their devices)."""
        found: list[str] = []
        for account_id in account_ids:
            load = functools.partial(self._load_backup, account_id)
            found += await self._account_backup.get(account_id, load) or ()
        return found

    async def _load_backup(self, account_id: str) -> tuple[str, ...]:
        if self._backups is None:
            return ()
        backup = await self._backups.current(account_id)
        return () if backup is None else (backup.backup_id,)

    async def _load_devices(self, account_id: str) -> tuple[Device, ...]:
        devices = tuple(await self._devices.active_of(account_id))
        for device in devices:
            self._account_of_device[device.device_id] = account_id
        if len(self._account_of_device) > MAX_ENTRIES:
            self._account_of_device.clear()
        return devices

    def forget_conversation(self, conversation_id: str) -> None:
        self._conversations.invalidate(conversation_id)

    def forget_account(self, account_id: str) -> None:
        self._account_devices.invalidate(account_id)
        self._account_backup.invalidate(account_id)

    def forget_device(self, device_id: str) -> None:
        """A device changed: its account's set is reloaded (unknown here: nothing cached)."""
        account_id = self._account_of_device.get(device_id)
        if account_id is not None:
            self.forget_account(account_id)

    def forget_event(self, data: Mapping[str, Any]) -> None:
        """Whatever an event's data names: its conversation, its account, its device."""
        for field, forget in (
            ("conversation_id", self.forget_conversation),
            ("account_id", self.forget_account),
            ("device_id", self.forget_device),
        ):
            value = data.get(field)
            if isinstance(value, str):
                forget(value)

    def clear(self) -> None:
        self._conversations.clear()
        self._account_devices.clear()
        self._account_backup.clear()
