"""Device registration, resumption, revocation, key rotation and visibility rules."""

from __future__ import annotations

from datetime import datetime, timedelta

from haven_crypto import crypto
from services.gateway.model.principal import Principal
from services.gateway.model.records import Account, Backup, Contact, Device, new_id
from services.gateway.model.schemas import DeviceBlock, KxRotation
from services.gateway.security.limits import Limits
from services.gateway.sockets.registry import SocketRegistry
from services.gateway.stores.accounts import (
    MAX_ACTIVE_DEVICES,
    AccountRepository,
    AlreadyExistsError,
    DeviceRepository,
)
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.devicecache import DeviceCache
from services.gateway.stores.links import LinkRepository
from services.gateway.stores.outbox import Outbox
from services.gateway.stores.relationships import RelationshipRepository
from services.gateway.usecases.backup import BackupKeys
from shared.errors import (
    ClockSkewError,
    DeviceLimitError,
    ForbiddenError,
    InvalidKeyError,
    NotFoundError,
    SignatureInvalidError,
    UnauthorizedError,
)
from shared.events import (
    DeviceAdded,
    DeviceData,
    DeviceExpiring,
    DeviceExpiringData,
    DeviceRemoved,
    DeviceUpdated,
    utcnow,
)

CLOCK_SKEW = timedelta(seconds=300)


def check_device_block(handle: str, block: DeviceBlock, now: datetime) -> None:
    """Everything about the device is verified before the password is even looked at."""
    if abs(now.timestamp() - block.ts) > CLOCK_SKEW.total_seconds():
        raise ClockSkewError(
            "ts is too far from the server clock", server_time=int(now.timestamp())
        )
    check_kx_key(block.kx_key)
    if not crypto.verify_kx_signature(block.identity_key, handle, block.kx_key, block.kx_signature):
        raise SignatureInvalidError("kx_signature does not verify for this handle")
    if not crypto.verify_login_proof(
        block.identity_key, handle, block.ts, block.kx_key, block.proof
    ):
        raise SignatureInvalidError("proof does not verify")


def check_kx_key(kx_key: bytes) -> None:
    try:
        crypto.check_x25519_public(kx_key)
    except crypto.CryptoError as error:
        raise InvalidKeyError(
            "kx_key is not an acceptable X25519 public key", field="kx_key"
        ) from error


class Devices:
    def __init__(
        self,
        *,
        devices: DeviceRepository,
        accounts: AccountRepository,
        relationships: RelationshipRepository,
        audit: AuditLog,
        outbox: Outbox,
        sockets: SocketRegistry,
        cache: DeviceCache,
        limits: Limits,
        expiry_days: float,
        warning_days: float = 14,
        expire_last_device: bool = False,
        backups: BackupKeys | None = None,
        links: LinkRepository | None = None,
    ) -> None:
        self._backups = backups
        self._links = links
        self._warning = timedelta(days=min(warning_days, expiry_days))
        self._expire_last = expire_last_device
        self._devices = devices
        self._accounts = accounts
        self._relationships = relationships
        self._audit = audit
        self._outbox = outbox
        self._sockets = sockets
        self._cache = cache
        self._limits = limits
        self._expiry = timedelta(days=expiry_days)

    async def register_or_resume(
        self, account: Account, block: DeviceBlock, replace_device_id: str | None
    ) -> tuple[Device, bool]:
        """Returns the device and whether it is new. Identity keys are never reused."""
        existing = await self._devices.by_identity_key(block.identity_key)
        if existing is not None:
            return await self._resume(account, existing, block), False
        replaced = await self._own_active(account.account_id, replace_device_id)
        now = utcnow()
        device = Device(
            device_id=new_id(),
            account_id=account.account_id,
            name=block.name,
            identity_key=block.identity_key,
            kx_key=block.kx_key,
            kx_signature=block.kx_signature,
            created_at=now,
            last_seen_at=now,
        )
        try:
            await self._devices.insert(device)
        except AlreadyExistsError:
            # A parallel login with the same new key won the insert: resume that device.
            raced = await self._devices.by_identity_key(block.identity_key)
            if raced is None:
                raise SignatureInvalidError("this identity key cannot be used") from None
            return await self._resume(account, raced, block), False
        if replaced is not None:
            await self.revoke(replaced, reason="replaced")
        # Checked after the insert, so parallel logins cannot all slip under the limit.
        if await self._devices.count_active(account.account_id) > MAX_ACTIVE_DEVICES:
            await self._devices.delete(device.device_id)  # never announced or used: no trace
            raise DeviceLimitError(
                f"at most {MAX_ACTIVE_DEVICES} active devices; name replace_device_id"
            )
        await self._refuse_if_account_gone(account, device)
        await self._outbox.emit(
            DeviceAdded.create(
                DeviceData(account_id=account.account_id, device_id=device.device_id)
            )
        )
        await self._audit.record(
            "device_added", account_id=account.account_id, device_id=device.device_id
        )
        return device, True

    async def _resume(self, account: Account, existing: Device, block: DeviceBlock) -> Device:
        """The same identity key on the same account's active device: a new session for it."""
        if existing.account_id != account.account_id or not existing.active:
            raise SignatureInvalidError("this identity key cannot be used")
        resumed = await self._devices.new_session(existing.device_id, utcnow())
        if resumed is None:
            raise SignatureInvalidError("this identity key cannot be used")
        if existing.name != block.name:
            resumed = await self._devices.rename(existing.device_id, block.name) or resumed
        if existing.kx_key != block.kx_key:
            await self._devices.rotate_kx(
                existing.device_id, block.kx_key, block.kx_signature, utcnow()
            )
            resumed = await self._devices.by_id(existing.device_id) or resumed
            await self._keys_changed(account.account_id, existing.device_id)
        self._cache.invalidate(existing.device_id)
        # The old session's sockets end with it.
        await self._sockets.close_device(existing.device_id, "reauth")
        await self._refuse_if_account_gone(account, resumed)
        return resumed

    async def _refuse_if_account_gone(self, account: Account, device: Device) -> None:
        """Checked again after the write: a deactivation or deletion that ran while this login
        checked the password revoked the devices it saw, not this one (issue 18)."""
        current = await self._accounts.by_id(account.account_id)
        if current is not None and current.active:
            return
        await self.revoke(device, reason="account_deactivated")
        raise UnauthorizedError("wrong handle or password")

    async def _own_active(self, account_id: str, device_id: str | None) -> Device | None:
        if device_id is None:
            return None
        device = await self._devices.by_id(device_id)
        if device is None or device.account_id != account_id or not device.active:
            raise NotFoundError("replace_device_id is not one of your active devices")
        return device

    async def revoke_own(self, who: Principal, device_id: str, *, reason: str) -> None:
        """Idempotent: revoking a revoked own device is a silent no-op once it was announced
        (an earlier attempt that failed half way is completed instead)."""
        device = await self._devices.by_id(device_id)
        if device is None or device.account_id != who.account_id:
            raise NotFoundError("no such device")
        if not device.active and device.removal_announced:
            return
        await self._limits.check("device_ops", who.account_id, utcnow())
        await self.revoke(device, reason=reason)

    async def revoke(
        self, device: Device, *, reason: str, unseen_since: datetime | None = None
    ) -> bool:
        """Revoke, close its sockets everywhere, announce. Safe to repeat after a partial failure:
        the event id is derived from the device, so a second announcement dedupes downstream.
        With `unseen_since` (an expiry) nothing happens if the device was used since: False."""
        newly = await self._devices.revoke(device.device_id, utcnow(), unseen_since=unseen_since)
        if unseen_since is not None and not newly:
            return False
        self._cache.invalidate(device.device_id)
        await self._sockets.close_device(device.device_id)
        await self._outbox.emit(
            DeviceRemoved.create(
                DeviceData(account_id=device.account_id, device_id=device.device_id)
            )
        )
        await self._devices.removal_announced(device.device_id)
        if self._links is not None:  # nothing waits for a device that can fetch nothing
            await self._links.forget_device(device.device_id)
        if self._backups is not None:
            await self._backups.device_revoked(device.account_id)
        if newly:
            await self._audit.record(
                "device_removed",
                account_id=device.account_id,
                device_id=device.device_id,
                reason=reason,
            )
        return True

    async def revoke_others(self, who: Principal, *, reason: str) -> None:
        for device in await self._devices.active_of(who.account_id):
            if device.device_id != who.device_id:
                await self.revoke(device, reason=reason)

    async def rotate_kx(self, who: Principal, device_id: str, body: KxRotation) -> None:
        if device_id != who.device_id:
            other = await self._devices.by_id(device_id)
            if other is None or other.account_id != who.account_id:
                raise NotFoundError("no such device")
            raise ForbiddenError("a device rotates its own key-agreement key")
        await self._limits.check("kx", device_id, utcnow())
        account = await self._accounts.by_id(who.account_id)
        device = await self._devices.by_id(device_id)
        if account is None or device is None:
            raise NotFoundError("no such device")
        check_kx_key(body.kx_key)
        if not crypto.verify_kx_signature(
            device.identity_key, account.handle, body.kx_key, body.kx_signature
        ):
            raise SignatureInvalidError("kx_signature does not verify for this device and handle")
        await self._devices.rotate_kx(device_id, body.kx_key, body.kx_signature, utcnow())
        await self._keys_changed(who.account_id, device_id)
        await self._audit.record(
            "device_kx_rotated", account_id=who.account_id, device_id=device_id
        )

    async def _keys_changed(self, account_id: str, device_id: str) -> None:
        """Counterparts learn (devices_changed) that this device's public keys changed."""
        await self._outbox.emit(
            DeviceUpdated.create(DeviceData(account_id=account_id, device_id=device_id))
        )

    async def own(self, who: Principal) -> list[Device]:
        return await self._devices.active_of(who.account_id)

    async def contact_with(self, who: Principal, account_id: str) -> Contact | None:
        """Yourself and a live relationship see everything current; an ended one sees what
        stood at its end; anyone else nothing."""
        if account_id == who.account_id:
            return Contact()
        return await self._relationships.contact(who.account_id, account_id)

    async def may_see(self, who: Principal, account_id: str) -> bool:
        """Yourself, or an account you have a live relationship with (current state, such as
        availability, is not for an ex-counterpart)."""
        contact = await self.contact_with(who, account_id)
        return contact is not None and contact.live

    async def visible_devices(self, who: Principal, account_id: str) -> list[Device]:
        """The active devices; for an ex-counterpart, those active at the end, as they were."""
        contact = await self.contact_with(who, account_id)
        if contact is None:
            raise NotFoundError("no such account")
        if contact.until is None:
            return await self._devices.active_of(account_id)
        then = await self._devices.active_at(account_id, contact.until)
        return [device.as_of(contact.until) for device in then if not device.erased]

    async def visible_backup(self, who: Principal, account_id: str) -> Backup | None:
        """The backup key listed with the devices `visible_devices` returns (as it stood at the
        end of an ended relationship)."""
        contact = await self.contact_with(who, account_id)
        if contact is None or self._backups is None:
            return None
        return await self._backups.listed(account_id, contact.until)

    async def visible_device(self, who: Principal, device_id: str) -> Device:
        """Kept after revocation (old messages verify); an ex-counterpart sees it as it stood
        at the end, and nothing of a device added since."""
        device = await self._devices.by_id(device_id)
        contact = None if device is None else await self.contact_with(who, device.account_id)
        if device is None or contact is None or device.erased:
            raise NotFoundError("no such device")
        if contact.until is None:
            return device
        if device.created_at > contact.until:
            raise NotFoundError("no such device")
        return device.as_of(contact.until)

    async def sweep_expiry(self) -> tuple[int, int]:
        """Warn the devices nearing expiry, sign out those whose announced date has passed;
        (warned, expired). A device is never signed out unwarned: the warning names the date
        (at least the warning period ahead), and only that date passing without the device
        being used ends it. An account's most recently seen device is neither warned nor
        expired unless the operator allows it (HAVEN_DEVICE_EXPIRY_LAST_DEVICE)."""
        now = utcnow()
        warned = expired = 0
        for device in await self._devices.unseen_since(now - (self._expiry - self._warning)):
            if not await self._may_expire(device):
                continue
            if device.expiry_warned_for != device.last_seen_at:
                due = max(device.last_seen_at + self._expiry, now + self._warning)
                if not await self._devices.claim_expiry_warning(
                    device.device_id, device.last_seen_at, due, now
                ):
                    continue  # used meanwhile, or another replica warned it
                data = DeviceExpiringData(
                    account_id=device.account_id, device_id=device.device_id, expires_at=due
                )
                await self._outbox.emit(DeviceExpiring.create(data))
                await self._audit.record(
                    "device_expiry_warned",
                    account_id=device.account_id,
                    device_id=device.device_id,
                    expires_at=due.isoformat(),
                )
                warned += 1
            expired += await self.expire_if_due(device.device_id, now)
        return warned, expired

    async def expire_if_due(
        self, device_id: str, now: datetime, known: Device | None = None
    ) -> bool:
        """Signed out if it was warned for its current period and the announced date passed
        (`known`: the device as just read, so a refresh of a device not due reads nothing)."""
        if known is not None and not _due(known, now):
            return False
        device = await self._devices.by_id(device_id)
        if device is None or not device.active or not _due(device, now):
            return False
        if not await self._may_expire(device):
            return False
        return await self.revoke(device, reason="expired", unseen_since=device.last_seen_at)

    async def _may_expire(self, device: Device) -> bool:
        return self._expire_last or await self._devices.seen_later_sibling(device)

    @property
    def expiry_seconds(self) -> float:
        return self._expiry.total_seconds()


def _due(device: Device, now: datetime) -> bool:
    """Warned for its current period (not used since) and the announced date has passed."""
    due = device.expiry_due_at
    return device.expiry_warned_for == device.last_seen_at and due is not None and due <= now
