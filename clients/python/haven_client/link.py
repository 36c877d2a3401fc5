"""Linking a new device from one already signed in (docs/history.md, "Link code" and
"Secret transfer").

The new device shows one short code per other device of the account; the approving
device shows the code for the new one. Only when the person confirms both match does the
approving device box the backup secret (or an explicit "no backup") to the new device's kx
key. The new device accepts it only from an active device of its own account, only if
the box opens with that device's key, and only if the secret matches the published
backup key; anything else is refused and nothing is stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable

from haven_client import copy_history
from haven_client.directory import Directory, PeerDevice
from haven_client.errors import HavenError, NotLoggedIn
from haven_client.historyapi import BackupInfo, HistoryApi, PendingLink
from haven_client.historykeys import HistoryKeys
from haven_client.keystore import Keystore
from haven_client.models import Me
from haven_crypto.crypto import KxPrivateKey
from haven_crypto.link import LinkError, LinkSecret, link_code, open_link_secret, seal_link_secret


class LinkRefused(HavenError):
    """A link that did not come from this account's own device, or does not match its
    backup key: nothing was stored."""

    def __init__(self, reason: str) -> None:
        super().__init__(copy_history.LINK_REFUSED)
        self.reason = reason


class NotOwnDevice(HavenError):
    """The device to approve is not one of this account's active devices."""

    def __init__(self) -> None:
        super().__init__(copy_history.NOT_OWN_DEVICE)


class NoLinkYet(HavenError):
    def __init__(self) -> None:
        super().__init__(copy_history.NO_LINK_YET)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LinkCode:
    """The code to compare with one other device of the account (``name`` as listed)."""

    device_id: str
    name: str
    code: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class LinkOutcome:
    """What the link carried over: with a backup, this device can now open history."""

    sender_device_id: str
    backup_id: str | None
    backup_elsewhere: bool = False
    """The account has a backup, but the approving device does not hold its key."""
    received: bool = False
    """Seen from the new device (else from the approving one)."""

    @property
    def with_history(self) -> bool:
        return self.backup_id is not None

    @property
    def notice(self) -> str | None:
        if self.with_history:
            return None
        if not self.backup_elsewhere:
            return copy_history.NO_HISTORY_CARRIED
        return copy_history.RESTORE_HERE if self.received else copy_history.BACKUP_KEY_NOT_HERE


class Linking:
    def __init__(
        self,
        *,
        wire: HistoryApi,
        store: Keystore,
        directory: Directory,
        keys: HistoryKeys,
        vouch: Callable[[BackupInfo], Awaitable[BackupInfo]] | None = None,
    ) -> None:
        self._wire = wire
        self._store = store
        self._directory = directory
        self._keys = keys
        self._vouch = vouch

    # --- the new device --------------------------------------------------------------------

    async def codes(self, me: Me) -> list[LinkCode]:
        """One code per other active device of this account, to compare on that device."""
        own, others = await self._own_devices()
        names = {d.device_id: d.name for d in me.devices}
        return [
            LinkCode(
                device_id=d.device_id,
                name=names.get(d.device_id, ""),
                code=link_code(d.account_id, own.identity_key, d.identity_key),
            )
            for d in others
        ]

    async def wait(self, *, timeout: float, poll: float = 1.0) -> LinkOutcome:
        """Wait for another device's approval and accept it (``NoLinkYet`` after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            pending = await self._wire.links()
            if pending:
                return await self.accept(pending[0])
            if time.monotonic() >= deadline:
                raise NoLinkYet
            await asyncio.sleep(min(poll, max(0.0, deadline - time.monotonic())))

    async def accept(self, link: PendingLink) -> LinkOutcome:
        """Verify and store one link; refused links are dropped too (they cannot turn good)."""
        try:
            secret = await self._open(link)
            outcome = await self._adopt(link, secret)
        finally:
            await self._wire.drop_link(link.link_id)
        return outcome

    async def _open(self, link: PendingLink) -> LinkSecret:
        _, others = await self._own_devices()
        sender = next((d for d in others if d.device_id == link.sender_device_id), None)
        if sender is None:
            raise LinkRefused("the sender is not an active device of this account")
        failure = LinkError("this device holds no kx key")
        for own_kx in self._store.all_kx():
            for sender_kx in dict.fromkeys(
                [sender.kx_key, *self._directory.known_kx(sender.device_id)]
            ):
                try:
                    return open_link_secret(
                        link.ciphertext, own_kx=own_kx, approver_kx_public=sender_kx
                    )
                except LinkError as exc:
                    failure = exc
        raise LinkRefused(f"the link does not open: {failure}")

    async def _adopt(self, link: PendingLink, secret: LinkSecret) -> LinkOutcome:
        info = await self._wire.backup()
        if secret.backup_id is None or secret.backup_secret is None:
            return LinkOutcome(
                sender_device_id=link.sender_device_id,
                backup_id=None,
                backup_elsewhere=info is not None,
                received=True,
            )
        pair = KxPrivateKey(secret.backup_secret)
        if info is None or bytes(pair.public_key) != info.kx_key:
            raise LinkRefused("the secret is not the account's published backup key")
        if secret.backup_id not in info.all_ids:
            raise LinkRefused("the link names another backup")
        if self._vouch is not None:
            info = await self._vouch(info)  # the key outlives the approving device
        for backup_id in info.all_ids:
            self._keys.keep(backup_id, pair)
        return LinkOutcome(
            sender_device_id=link.sender_device_id, backup_id=info.backup_id, received=True
        )

    # --- the approving device ------------------------------------------------------------------

    async def code_for(self, device_id: str) -> str:
        """The code to compare with the one the new device shows."""
        own, new = await self._target(device_id)
        return link_code(new.account_id, own.identity_key, new.identity_key)

    async def approve(self, device_id: str) -> LinkOutcome:
        """Send the backup secret (or "no backup") to ``device_id``; call only after the
        person confirmed the codes match."""
        _, new = await self._target(device_id)
        info, _ = await self.backup_kept_here()
        secret = await self._secret()
        keys = self._store.device_keys()
        own_id = self._store.state.device_id
        if keys is None or own_id is None:
            raise NotLoggedIn("log in first")
        ciphertext = seal_link_secret(secret, approver_kx=keys.kx, new_device_kx_public=new.kx_key)
        await self._wire.send_link(device_id, ciphertext, own_id)
        return LinkOutcome(
            sender_device_id=own_id,
            backup_id=secret.backup_id,
            backup_elsewhere=info is not None and secret.backup_id is None,
        )

    async def backup_kept_here(self) -> tuple[BackupInfo | None, bool]:
        """The account's backup, and whether this device can hand it on."""
        info = await self._wire.backup()
        held = info is not None and any(i in self._keys.backup_keys() for i in info.all_ids)
        return info, held

    async def _secret(self) -> LinkSecret:
        info, held = await self.backup_kept_here()
        if info is None or not held:
            return LinkSecret(backup_id=None, backup_secret=None)
        keys = self._keys.backup_keys()
        pair = next(keys[i] for i in info.all_ids if i in keys)
        if bytes(pair.public_key) != info.kx_key:
            return LinkSecret(backup_id=None, backup_secret=None)
        return LinkSecret(backup_id=info.backup_id, backup_secret=bytes(pair))

    async def _target(self, device_id: str) -> tuple[PeerDevice, PeerDevice]:
        own, others = await self._own_devices()
        new = next((d for d in others if d.device_id == device_id), None)
        if new is None:
            raise NotOwnDevice
        return own, new

    async def _own_devices(self) -> tuple[PeerDevice, list[PeerDevice]]:
        """This device and the account's other active devices, kx keys verified."""
        account, own_id = self._store.state.account, self._store.state.device_id
        if account is None or own_id is None:
            raise NotLoggedIn("log in first")
        listed = await self._directory.active_devices(
            account.account_id, account.handle, fresh=True
        )
        own = next((d for d in listed if d.device_id == own_id), None)
        if own is None:
            raise HavenError("this device is not among its account's active devices")
        return own, [d for d in listed if d.device_id != own_id]
