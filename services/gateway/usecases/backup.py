"""The account's backup key: published, replaced and removed from one of its devices, listed
with its devices as a recipient, and dropped once no active device vouches for it.

The server never holds anything that opens a message: the key's private half is derived on a
device from the recovery key (docs/history.md). What the server checks is what it can: a usable
X25519 public key, and signatures by the account's active devices over
`b"haven-backup-v1\\x00" + handle + b"\\x00" + kx_key` (API.md "History on a new device"),
the calling device's among them. Senders check them again before wrapping.
"""

from __future__ import annotations

from datetime import datetime

from haven_crypto import crypto
from services.gateway.model.principal import Principal
from services.gateway.model.records import Backup
from services.gateway.model.schemas import BackupPut
from services.gateway.security.limits import Limits
from services.gateway.stores.accounts import AccountRepository, DeviceRepository
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.backups import BackupRepository
from services.gateway.stores.outbox import Outbox
from shared.errors import (
    ConflictError,
    InvalidKeyError,
    NotFoundError,
    SignatureInvalidError,
    UnprocessableError,
)
from shared.events import BackupChanged, BackupChangeData, utcnow
from shared.recipients import new_backup_id

BACKUP_CONTEXT = b"haven-backup-v1\x00"


def backup_signature_input(handle: str, kx_key: bytes) -> bytes:
    """What each signing device signs (API.md; the handle lowercase, UTF-8)."""
    return BACKUP_CONTEXT + handle.lower().encode("utf-8") + b"\x00" + kx_key


class BackupKeys:
    def __init__(
        self,
        *,
        backups: BackupRepository,
        devices: DeviceRepository,
        accounts: AccountRepository,
        outbox: Outbox,
        audit: AuditLog,
        limits: Limits,
    ) -> None:
        self._backups = backups
        self._devices = devices
        self._accounts = accounts
        self._outbox = outbox
        self._audit = audit
        self._limits = limits

    async def publish(self, who: Principal, body: BackupPut) -> Backup:
        """Replaces any current key (a new `backup_id`, the old one kept as revoked)."""
        await self._limits.check("device_ops", who.account_id, utcnow())
        try:
            crypto.check_x25519_public(body.kx_key)
        except crypto.CryptoError as error:
            raise InvalidKeyError(
                "kx_key is not an acceptable X25519 public key", field="kx_key"
            ) from error
        account = await self._accounts.by_id(who.account_id)
        if account is None:
            raise NotFoundError("no such account")
        if who.device_id not in body.signatures:
            raise UnprocessableError(
                "signatures must include the signature of the device publishing the key",
                field="signatures",
            )
        active = {d.device_id: d for d in await self._devices.active_of(who.account_id)}
        signed = backup_signature_input(account.handle, body.kx_key)
        for device_id, signature in sorted(body.signatures.items()):
            device = active.get(device_id)
            if device is None:
                raise UnprocessableError(
                    f"{device_id} is not an active device of this account",
                    field=f"signatures.{device_id}",
                )
            if not crypto.verify_detached(device.identity_key, signed, signature):
                raise SignatureInvalidError(
                    f"the signature of device {device_id} does not verify for this key and handle"
                )
        now = utcnow()
        backup = Backup(
            backup_id=new_backup_id(),
            account_id=who.account_id,
            kx_key=body.kx_key,
            signatures=dict(body.signatures),
            created_at=now,
        )
        current = await self._backups.current(who.account_id)
        if current is not None:
            await self._backups.retire(current.backup_id, now, "replaced")
        if not await self._backups.insert_current(backup):  # the parallel publish announces
            raise ConflictError("another backup key was published at the same moment")
        await self._announce(who.account_id, backup, current, "published")
        await self._audit.record(
            "backup_published",
            account_id=who.account_id,
            device_id=who.device_id,
            backup_id=backup.backup_id,
            replaced=current.backup_id if current else None,
            signatures=len(backup.signatures),
        )
        return backup

    async def current(self, who: Principal) -> tuple[Backup, list[str]]:
        """The current key and the earlier ids of the same key; 404 while there is none."""
        backup = await self._backups.current(who.account_id)
        if backup is None:
            raise NotFoundError("this account has no backup key")
        earlier = await self._backups.same_key(who.account_id, backup.kx_key, backup.backup_id)
        return backup, earlier

    async def remove(self, who: Principal) -> None:
        """Idempotent: nothing to remove is fine (and announces nothing)."""
        await self._limits.check("device_ops", who.account_id, utcnow())
        current = await self._backups.current(who.account_id)
        if current is None or not await self._backups.retire(
            current.backup_id, utcnow(), "removed"
        ):
            return
        await self._announce(who.account_id, None, current, "removed")
        await self._audit.record(
            "backup_removed",
            account_id=who.account_id,
            device_id=who.device_id,
            backup_id=current.backup_id,
        )

    async def listed(self, account_id: str, until: datetime | None = None) -> Backup | None:
        """The key listed with the account's devices: the current one, or for an ended
        relationship the one current when it ended."""
        if until is None:
            found = await self._backups.current(account_id)
        else:
            found = await self._backups.current_at(account_id, until)
        return found if found is not None and found.kx_key else None  # erased: not listed

    async def device_revoked(self, account_id: str) -> None:
        """A key no active device vouches for any more would stop every send to the account
        (senders refuse an unsigned backup key): it is retired and announced, and the account's
        remaining devices may publish it again with their own signatures."""
        current = await self._backups.current(account_id)
        if current is None:
            return
        active = {d.device_id for d in await self._devices.active_of(account_id)}
        if active & set(current.signatures):
            return
        if await self._backups.retire(current.backup_id, utcnow(), "no_active_signer"):
            await self._announce(account_id, None, current, "no_active_signer")
            await self._audit.record(
                "backup_removed",
                account_id=account_id,
                backup_id=current.backup_id,
                reason="no_active_signer",
            )

    async def _announce(
        self, account_id: str, backup: Backup | None, previous: Backup | None, reason: str
    ) -> None:
        await self._outbox.emit(
            BackupChanged.create(
                BackupChangeData(
                    account_id=account_id,
                    backup_id=backup.backup_id if backup else None,
                    previous_backup_id=previous.backup_id if previous else None,
                    reason=reason,
                )
            )
        )
