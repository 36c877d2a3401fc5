"""Log in, refresh (rotating, with reuse detection), log out."""

from __future__ import annotations

import secrets
from datetime import timedelta

import structlog

from services.gateway.model.principal import Principal
from services.gateway.model.records import Account, Device, RefreshRecord
from services.gateway.model.schemas import AccountOut, LoginRequest, SessionOut
from services.gateway.security.guard import PasswordGuard, login_subject
from services.gateway.security.limits import Limits, address_bucket
from services.gateway.security.passwords import PasswordHasher
from services.gateway.security.tokens import Claims, TokenSigner, refresh_successor
from services.gateway.settings import GatewaySettings
from services.gateway.sockets.registry import SocketRegistry
from services.gateway.stores.accounts import AccountRepository, DeviceRepository
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.devicecache import DeviceCache
from services.gateway.stores.outbox import Outbox
from services.gateway.stores.tokens import RefreshTokenRepository, digest
from services.gateway.usecases.devices import Devices, check_device_block
from shared.deliveries import ControlAction
from shared.errors import UnauthorizedError
from shared.events import DeviceData, DeviceSessionEnded, utcnow

log = structlog.get_logger(__name__)

REFRESH_GRACE = timedelta(seconds=30)
WRONG_CREDENTIALS = "wrong handle or password"


def account_out(account: Account) -> AccountOut:
    return AccountOut(
        account_id=account.account_id,
        handle=account.handle,
        role=account.role,
        display_name=account.display_name,
    )


class Sessions:
    def __init__(
        self,
        *,
        settings: GatewaySettings,
        accounts: AccountRepository,
        devices: DeviceRepository,
        device_rules: Devices,
        refresh_tokens: RefreshTokenRepository,
        signer: TokenSigner,
        hasher: PasswordHasher,
        guard: PasswordGuard,
        audit: AuditLog,
        outbox: Outbox,
        sockets: SocketRegistry,
        cache: DeviceCache,
        limits: Limits,
    ) -> None:
        self._limits = limits
        self._settings = settings
        self._accounts = accounts
        self._devices = devices
        self._device_rules = device_rules
        self._refresh_tokens = refresh_tokens
        self._signer = signer
        self._hasher = hasher
        self._guard = guard
        self._audit = audit
        self._outbox = outbox
        self._sockets = sockets
        self._cache = cache

    async def login(self, body: LoginRequest, address: str) -> SessionOut:
        handle = body.handle.lower()
        check_device_block(handle, body.device, utcnow())
        subject, network = login_subject(handle, address), address_bucket(address)
        account = await self._accounts.by_handle(handle)
        await self._login_budgets(account, network, take=False)
        await self._guard.reserve(subject, address)
        stored = account.password_hash if account else None
        if not await self._hasher.verify(stored, body.password, owner=network) or account is None:
            await self._audit.record(
                "login_failed", address=address, handle_known=account is not None
            )
            raise UnauthorizedError(WRONG_CREDENTIALS)
        await self._guard.succeeded(subject, address)
        await self._login_budgets(account, network, take=True)
        checked = account.password_hash
        if self._hasher.needs_rehash(account.password_hash):
            checked = await self._hasher.hash(body.password)
            await self._accounts.set_password(account.account_id, checked)
        device, is_new = await self._device_rules.register_or_resume(
            account, body.device, body.replace_device_id
        )
        await self._refuse_if_password_changed(
            account, checked, body.password, device, is_new=is_new, address=address
        )
        await self._audit.record(
            "login_succeeded",
            account_id=account.account_id,
            device_id=device.device_id,
            address=address,
            resumed=not is_new,
        )
        return await self._issue(account, device, secrets.token_urlsafe(32))

    async def _refuse_if_password_changed(
        self,
        account: Account,
        checked: bytes,
        password: str,
        device: Device,
        *,
        is_new: bool,
        address: str,
    ) -> None:
        """Checked again once the device's session is written: a password reset (or change)
        that ran while this login checked the old password ended the sessions it saw, not this
        one. Another hash of the same password (a parallel rehash) is no change."""
        current = await self._accounts.by_id(account.account_id)
        if current is not None and current.password_hash == checked:
            return
        if current is not None and await self._hasher.verify(
            current.password_hash, password, owner=address_bucket(address)
        ):
            return
        if is_new:  # registered by a login that is refused: it never had a session
            await self._device_rules.revoke(device, reason="login_refused")
        await self._audit.record(
            "login_failed",
            account_id=account.account_id,
            device_id=device.device_id,
            address=address,
            reason="password_changed_meanwhile",
        )
        raise UnauthorizedError(WRONG_CREDENTIALS)

    async def _login_budgets(self, account: Account | None, network: str, *, take: bool) -> None:
        """Successful logins per account and per address (IPv6: per /64) have budgets. A spent
        budget refuses before the password is checked, right or wrong (no oracle); a login
        that succeeds takes its tokens."""
        now = utcnow()
        check = self._limits.check if take else self._limits.ensure_left
        if account is not None:
            await check("login_account", account.account_id, now)
        await check("login_address", network, now)

    async def _issue(self, account: Account, device: Device, refresh: str) -> SessionOut:
        now = utcnow()
        await self._refresh_tokens.insert(
            refresh,
            RefreshRecord(
                device_id=device.device_id,
                account_id=account.account_id,
                session=device.session,
                created_at=now,
                expires_at=now + timedelta(days=self._settings.refresh_token_days),
                successor_seed=secrets.token_bytes(32),
            ),
        )
        lifetime = self._settings.access_token_seconds
        access = self._signer.issue(
            Claims(
                account_id=account.account_id,
                device_id=device.device_id,
                role=account.role,
                session=device.session,
                expires_at=int(now.timestamp()) + lifetime,
            )
        )
        return SessionOut(
            access_token=access,
            refresh_token=refresh,
            expires_in=lifetime,
            device_id=device.device_id,
            account=account_out(account),
        )

    async def refresh(self, token: str, address: str) -> SessionOut:
        record = await self._refresh_tokens.find(token)
        now = utcnow()
        if record is None or record.expires_at <= now:
            raise UnauthorizedError("unknown or expired refresh token")
        device = await self._devices.by_id(record.device_id)
        account = await self._accounts.by_id(record.account_id)
        if (
            device is None
            or account is None
            or not account.active
            or not device.active
            or device.session != record.session
        ):
            raise UnauthorizedError("this session has ended")
        if await self._device_rules.expire_if_due(device.device_id, now, known=device):
            raise UnauthorizedError("this device expired")
        successor = self._successor(token, record)
        if not await self._refresh_tokens.spend(token, now, successor):
            await self._check_replay(token, successor, device, address)
        if not await self._devices.touch(device.device_id, record.session, now):
            raise UnauthorizedError("this session has ended")  # revoked while refreshing
        return await self._issue(account, device, successor)

    def _successor(self, token: str, record: RefreshRecord) -> str:
        if record.successor_seed is None:  # from before seeds (lives at most refresh_token_days)
            return self._signer.refresh_successor(token)
        return refresh_successor(token, record.successor_seed)

    async def _check_replay(self, token: str, successor: str, device: Device, address: str) -> None:
        """A spent token gets, within the grace period, the very successor it got when it was
        spent (a lost answer or a parallel refresh is no attack): never a second chain. Later,
        it ends the device session."""
        spent = await self._refresh_tokens.find(token)
        if spent is None or spent.spent_at is None:
            raise UnauthorizedError("unknown or expired refresh token")
        if utcnow() - spent.spent_at > REFRESH_GRACE:
            await self.end_session(device)
            await self._audit.record(
                "refresh_reuse_detected",
                account_id=device.account_id,
                device_id=device.device_id,
                address=address,
            )
            raise UnauthorizedError("refresh token reused; the session was revoked")
        if (spent.successor_digest or digest(successor)) != digest(successor):
            raise UnauthorizedError(
                "this refresh token was used already; continue with its successor"
            )

    async def end_session(self, device: Device, action: ControlAction = "revoke") -> None:
        """Every access and refresh token of the device's current session stops working; its
        sockets close with 4403 (`signout`: after the frames already routed to them)."""
        await self._devices.end_session(device.device_id)
        self._cache.invalidate(device.device_id)
        await self._sockets.close_device(device.device_id, action)
        await self._outbox.emit(
            DeviceSessionEnded.create(
                DeviceData(account_id=device.account_id, device_id=device.device_id)
            )
        )

    async def end_session_of(self, who: Principal) -> None:
        device = await self._devices.by_id(who.device_id)
        if device is not None:
            await self.end_session(device)

    async def logout(self, who: Principal) -> None:
        await self.end_session_of(who)
        await self._audit.record("logout", account_id=who.account_id, device_id=who.device_id)
