"""Public keys of devices, fetched from the gateway and trusted only after checking them.

A kx key is used (to wrap for, or to open from) only once its ``kx_signature``
verifies under the device's identity key and the handle of the account that lists
it (API.md, Keys). Listings pin identity keys (``KeyWatch``); a lookup by device id
that contradicts a pin is refused. Lookups are cached, revoked devices included, so
a message sent before a revocation can still be verified.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime

from haven_client.api import HavenApi
from haven_client.backupkeys import BackupRecipient, trusted_backup
from haven_client.errors import UntrustedDevice
from haven_client.keywatch import KeyWatch
from haven_client.models import BackupEntry, Device, DeviceDetail
from haven_crypto.crypto import CryptoError, check_x25519_public, verify_kx_signature


@dataclasses.dataclass(frozen=True, kw_only=True)
class PeerDevice:
    """A device whose kx key was verified under ``handle`` (the account that lists it)."""

    device_id: str
    account_id: str
    handle: str
    identity_key: bytes
    kx_key: bytes
    created_at: datetime | None = None
    revoked_at: datetime | None = None


class Directory:
    """``max_age`` bounds how long a device list is trusted without ``devices_changed``:
    a client that missed the frame (offline, no socket) must not keep wrapping for a
    rotated-away kx key for the rest of its life."""

    def __init__(self, api: HavenApi, watch: KeyWatch, *, max_age: float = 60.0) -> None:
        self._api = api
        self._watch = watch
        self._max_age = max_age
        self._active: dict[str, tuple[float, list[PeerDevice]]] = {}
        self._details: dict[str, tuple[float, DeviceDetail]] = {}
        self._backups: dict[str, list[BackupEntry]] = {}

    async def active_devices(
        self, account_id: str, handle: str, *, fresh: bool = False
    ) -> list[PeerDevice]:
        """An account's active devices, all verified; one bad device fails the whole set."""
        cached = self._active.get(account_id)
        if not fresh and cached is not None and time.monotonic() - cached[0] < self._max_age:
            return cached[1]
        listing = await self._api.account_devices(account_id)
        if listing.account_id != account_id:
            raise UntrustedDevice("*", f"asked for {account_id}, got {listing.account_id}")
        devices = [
            self._trust(account_id, handle, device, listed=True) for device in listing.devices
        ]
        self._active[account_id] = (time.monotonic(), devices)
        self._backups[account_id] = list(listing.backups)
        return devices

    async def backup_recipient(self, account_id: str, handle: str) -> BackupRecipient | None:
        """The account's backup key if its listing has one and a device vouches for it
        (raises ``UntrustedBackup`` otherwise); from the same listing as ``active_devices``."""
        devices = await self.active_devices(account_id, handle)
        active = {d.device_id: d.identity_key for d in devices}
        return trusted_backup(self._backups.get(account_id, []), handle, active)

    async def device(
        self, device_id: str, handles: dict[str, str], *, fresh: bool = False
    ) -> PeerDevice:
        """Any device by id, revoked or not, if it belongs to one of ``handles``' accounts."""
        detail = None if fresh else self._cached_detail(device_id)
        if detail is None:
            detail = await self._api.device(device_id)
            if detail.device_id != device_id:
                raise UntrustedDevice(device_id, "the server answered for another device")
            self._details[device_id] = (time.monotonic(), detail)
        handle = handles.get(detail.account_id)
        if handle is None:
            raise UntrustedDevice(device_id, "does not belong to a participant")
        peer = self._trust(detail.account_id, handle, detail, listed=False)
        return dataclasses.replace(peer, revoked_at=detail.revoked_at)

    def invalidate(self, account_id: str | None = None) -> None:
        """Forget cached keys (after ``devices_changed`` or a 409) so the next use refetches."""
        if account_id is None:
            self._active.clear()
            self._details.clear()
            return
        self._active.pop(account_id, None)
        for device_id, (_, detail) in list(self._details.items()):
            if detail.account_id == account_id and detail.revoked_at is None:
                del self._details[device_id]

    def release_disputed(self, account_id: str) -> None:
        """After the user acknowledged a key change: re-pin from the next fresh listing."""
        self._watch.release_disputed(account_id)
        self.invalidate(account_id)

    def _cached_detail(self, device_id: str) -> DeviceDetail | None:
        """Revoked devices never change again; active ones may be revoked or rotated."""
        cached = self._details.get(device_id)
        if cached is None:
            return None
        fetched_at, detail = cached
        if detail.revoked_at is None and time.monotonic() - fetched_at >= self._max_age:
            return None
        return detail

    def known_kx(self, device_id: str) -> list[bytes]:
        return self._watch.known_kx(device_id)

    def _trust(
        self, account_id: str, handle: str, device: Device | DeviceDetail, *, listed: bool
    ) -> PeerDevice:
        """A listing reports a swapped identity key but still answers with what the server
        says (sending stays blocked until acknowledged); a lookup that contradicts is refused."""
        if not verify_kx_signature(device.identity_key, handle, device.kx_key, device.kx_signature):
            raise UntrustedDevice(device.device_id, f"kx_signature does not verify for {handle!r}")
        try:
            check_x25519_public(device.kx_key)
        except CryptoError as exc:
            raise UntrustedDevice(device.device_id, str(exc)) from exc
        watch = self._watch.observe_listed if listed else self._watch.check
        if watch(account_id, device.device_id, device.identity_key):
            self._observe_kx(handle, device)
        elif not listed:
            raise UntrustedDevice(device.device_id, "identity key differs from the one listed")
        return PeerDevice(
            device_id=device.device_id,
            account_id=account_id,
            handle=handle,
            identity_key=device.identity_key,
            kx_key=device.kx_key,
            created_at=device.created_at,
        )

    def _observe_kx(self, handle: str, device: Device | DeviceDetail) -> None:
        for old in getattr(device, "previous_kx_keys", []):
            # Older messages were wrapped with these; each must be signed for this handle too.
            if verify_kx_signature(device.identity_key, handle, old.kx_key, old.kx_signature):
                self._watch.observe_kx(device.device_id, old.kx_key)
        self._watch.observe_kx(device.device_id, device.kx_key)
