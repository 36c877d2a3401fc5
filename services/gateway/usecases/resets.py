"""Password reset by an operator's one-time code (API.md "History on a new device").

An operator issues a code for an account (high entropy, stored hashed, single use, expiring,
audited with the operator's id, rate limited); the person sets a new password with it. Then
every session of the account ends (tokens refused, sockets closed with 4403 after the
`account` frame that says why), while devices, keys and history stay: signing in again on a
device resumes it. The account's devices also get a calm, content-free push, and its
counterparts' devices an `account` frame naming it (notification, from `account.password_reset`).
Every wrong, used or expired code — and a handle it is not for — gets the same 400
`reset_invalid` after the same work (the new password is hashed before the code is looked at).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from services.gateway.model.principal import Principal
from services.gateway.model.records import new_id
from services.gateway.model.schemas import PasswordResetRequest
from services.gateway.security.limits import Limits, address_bucket
from services.gateway.security.passwords import PasswordHasher
from services.gateway.sockets.registry import SocketRegistry
from services.gateway.stores.accounts import AccountRepository, DeviceRepository
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.outbox import Outbox
from services.gateway.stores.resets import ResetCodeRepository
from services.gateway.usecases.operations import operators_only
from services.gateway.usecases.sessions import Sessions
from shared.deliveries import delivery_id_for
from shared.errors import NotFoundError, ResetInvalidError
from shared.events import PasswordReset, PasswordResetData, utcnow
from shared.frames import AccountNotice
from shared.wire import iso_utc

# Crockford's base32 (no I, L, O, U): 24 characters are 120 bits, shown in groups of four.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 24
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalized(code: str) -> str:
    """What the person typed, as it was issued: case, spaces and dashes do not matter, and
    O/I/L read as 0/1."""
    kept = "".join(code.split()).replace("-", "").upper().translate(_READ_AS)
    return "-".join(kept[i : i + 4] for i in range(0, len(kept), 4))


class PasswordResets:
    def __init__(
        self,
        *,
        accounts: AccountRepository,
        devices: DeviceRepository,
        codes: ResetCodeRepository,
        sessions: Sessions,
        sockets: SocketRegistry,
        hasher: PasswordHasher,
        outbox: Outbox,
        audit: AuditLog,
        limits: Limits,
        code_hours: float,
    ) -> None:
        self._accounts = accounts
        self._devices = devices
        self._codes = codes
        self._sessions = sessions
        self._sockets = sockets
        self._hasher = hasher
        self._outbox = outbox
        self._audit = audit
        self._limits = limits
        self._lifetime = timedelta(hours=code_hours)

    async def issue(self, who: Principal, account_id: str) -> tuple[str, datetime]:
        """A new code for an active account (an earlier unused one stops working)."""
        operators_only(who)
        now = utcnow()
        await self._limits.check("reset_code", who.account_id, now)
        account = await self._accounts.by_id(account_id)
        if account is None or not account.active:
            raise NotFoundError("no such account")
        code, reset_id, expires_at = new_code(), new_id(), now + self._lifetime
        await self._codes.insert(
            code,
            reset_id=reset_id,
            account_id=account_id,
            issued_by=who.account_id,
            created_at=now,
            expires_at=expires_at,
        )
        await self._audit.record(
            "password_reset_code_issued",
            account_id=account_id,
            device_id=who.device_id,
            address=who.address,
            by=who.account_id,
            reset_id=reset_id,
            expires_at=iso_utc(expires_at),
        )
        return code, expires_at

    async def reset(self, body: PasswordResetRequest, address: str) -> None:
        now = utcnow()
        await self._limits.check("reset_address", address_bucket(address), now)
        handle = body.handle.strip().lower()
        # Per handle, whether or not an account has it: a budget only real accounts had would
        # tell who exists (the 6th attempt a 429 for them, a 400 for a made-up handle).
        await self._limits.check("reset_account", f"h:{handle}", now)
        account = await self._accounts.by_handle(handle)
        # Always hashed, before the code is looked at: a wrong code costs what a right one does.
        password_hash = await self._hasher.hash(body.new_password)
        owner = account.account_id if account is not None else ""
        record = await self._codes.claim(normalized(body.code), owner, now)
        if record is None or account is None:
            await self._audit.record(
                "password_reset_failed",
                account_id=account.account_id if account is not None else None,
                address=address,
            )
            raise ResetInvalidError("this reset code is unknown, used or expired")
        await self._accounts.set_password(account.account_id, password_hash)
        reset_id = str(record["reset_id"])
        ended = await self._end_sessions(account.account_id, reset_id)
        await self._outbox.emit(
            PasswordReset.create(
                PasswordResetData(account_id=account.account_id, reset_id=reset_id)
            )
        )
        await self._audit.record(
            "password_reset",
            account_id=account.account_id,
            address=address,
            reset_id=reset_id,
            issued_by=str(record["issued_by"]),
            sessions_ended=ended,
        )

    async def _end_sessions(self, account_id: str, reset_id: str) -> int:
        """Each device is told why (an `account` frame), then its session ends and its sockets
        close once that frame is written; the device and its keys stay."""
        frame = AccountNotice(event="password_reset", account_id=account_id)
        devices = await self._devices.active_of(account_id)
        for device in devices:
            delivery_id = delivery_id_for(f"password_reset:{reset_id}", device.device_id)
            await self._sockets.deliver_frame(device.device_id, frame, delivery_id)
            await self._sessions.end_session(device, "signout")
        return len(devices)
