"""Is this device still active in this session? Cached, and forgotten on revocation: by the
replica that revokes at once, by every other one when `device.removed` / `device.session_ended`
reaches its invalidation queue (stores/invalidation.py), and by all of them whenever
that queue was lost. The TTL is only the backstop for a change nobody announced.

A device counts as active only while its account is: a login that raced the account's
deactivation or deletion must not leave a usable session behind (issue 18)."""

from __future__ import annotations

import time

from services.gateway.stores.accounts import AccountRepository, DeviceRepository
from services.gateway.stores.directory import SendDirectory

TTL_SECONDS = 30.0  # a sender slower than this pays one device read per send


class DeviceCache:
    def __init__(
        self,
        devices: DeviceRepository,
        accounts: AccountRepository,
        directory: SendDirectory | None = None,
    ) -> None:
        self.devices = devices
        self._accounts = accounts
        self._directory = directory
        self._entries: dict[str, tuple[float, bool, int]] = {}

    async def active_session(self, device_id: str, claimed: int | None = None) -> int | None:
        """The device's current session number, or None if it is revoked or unknown.

        A cached session older than the claimed one (a login resumed the device on another
        replica) is re-read rather than trusted."""
        cached = self._entries.get(device_id)
        now = time.monotonic()
        fresh = cached is not None and now - cached[0] < TTL_SECONDS
        if fresh and cached is not None and (claimed is None or cached[2] >= claimed):
            return cached[2] if cached[1] else None
        device = await self.devices.by_id(device_id)
        active = device is not None and device.active
        if device is not None and active:
            account = await self._accounts.by_id(device.account_id)
            active = account is not None and account.active
        session = device.session if device else 0
        self._entries[device_id] = (now, active, session)
        if len(self._entries) > 100_000:
            self._entries.clear()
        return session if active else None

    def invalidate(self, device_id: str) -> None:
        """Also the device set its account's sends are checked against."""
        self._entries.pop(device_id, None)
        if self._directory is not None:
            self._directory.forget_device(device_id)

    def clear(self) -> None:
        self._entries.clear()
