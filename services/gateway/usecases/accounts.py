"""Accounts: invite-only registration, the bootstrap operator, password changes."""

from __future__ import annotations

from typing import NoReturn

import structlog
from pymongo.errors import PyMongoError

from services.gateway.model.principal import Principal
from services.gateway.model.records import Account, Device, new_id
from services.gateway.model.schemas import AccountOut, PasswordChange, RegisterRequest
from services.gateway.security.guard import PasswordGuard, password_change_subject
from services.gateway.security.limits import Limits, address_bucket
from services.gateway.security.passwords import PasswordHasher
from services.gateway.stores.accounts import AccountRepository, AlreadyExistsError
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.tokens import InviteRepository
from services.gateway.usecases.devices import Devices
from services.gateway.usecases.relationships import Relationships
from services.gateway.usecases.sessions import Sessions, account_out
from shared.errors import ConflictError, InviteInvalidError, NotFoundError, UnauthorizedError
from shared.events import utcnow

log = structlog.get_logger(__name__)

# Wrong current passwords in a row (on the account, since the last success) that end the
# session making the attempt: its owner would have logged in again long before.
PASSWORD_GUESSES_PER_SESSION = 5


class Accounts:
    def __init__(
        self,
        accounts: AccountRepository,
        invites: InviteRepository,
        devices: Devices,
        relationships: Relationships,
        sessions: Sessions,
        hasher: PasswordHasher,
        guard: PasswordGuard,
        audit: AuditLog,
        limits: Limits,
        invite_conflicts: int,
    ) -> None:
        self._accounts = accounts
        self._invites = invites
        self._devices = devices
        self._relationships = relationships
        self._sessions = sessions
        self._hasher = hasher
        self._guard = guard
        self._audit = audit
        self._limits = limits
        self._invite_conflicts = invite_conflicts

    async def _insert(
        self,
        handle: str,
        password: str,
        role: str,
        display_name: str | None,
        account_id: str | None = None,
    ) -> Account:
        account = Account(
            account_id=account_id or new_id(),
            handle=handle,
            role=role,  # type: ignore[arg-type]
            display_name=display_name or handle,
            password_hash=await self._hasher.hash(password),
            status="active",
            created_at=utcnow(),
        )
        try:
            await self._accounts.insert(account)
        except AlreadyExistsError as error:
            raise ConflictError("this handle is taken") from error
        return account

    async def register(self, body: RegisterRequest, address: str) -> AccountOut:
        """The invite decides the role; a client invite also starts the relationship.

        Cheap checks come first: the address's registration rate, the invite, then whether the
        handle is free — so neither enumerating handles nor a flood of requests ever reaches
        the password hash. The unique index on handles still decides a race.
        """
        handle = body.handle.lower()
        await self._limits.check("register", address_bucket(address), utcnow())
        invite = await self._relationships.usable_invite(body.invite_code)
        coach = None
        if invite.kind == "client":
            coach = await self._accounts.by_id(invite.created_by)
            if coach is None:
                raise InviteInvalidError("the coach behind this invite is no longer available")
            await self._relationships.require_crisis_resources()
        if await self._accounts.handle_taken(handle):
            await self._handle_taken(body.invite_code, address)
        account_id = new_id()
        if not await self._invites.claim(body.invite_code, account_id, utcnow()):
            raise InviteInvalidError("this invite is unknown, used or expired")
        try:
            account = await self._insert(
                handle, body.password, invite.kind, body.display_name, account_id
            )
            if coach is not None:
                await self._relationships.start(coach_id=coach.account_id, client_id=account_id)
        except (ConflictError, PyMongoError) as error:
            await self._undo_registration(body.invite_code, account_id)
            if isinstance(error, ConflictError):
                await self._handle_taken(body.invite_code, address)
            raise
        await self._audit.record(
            "account_registered", account_id=account_id, address=address, role=account.role
        )
        await self._audit.record(
            "invite_redeemed",
            account_id=account_id,
            invite_kind=invite.kind,
            created_by=invite.created_by,
        )
        return account_out(account)

    async def _handle_taken(self, code: str, address: str) -> NoReturn:
        """409, counted against the invite: after a few conflicts it is burnt."""
        if await self._invites.conflicted(code, self._invite_conflicts, utcnow()):
            await self._audit.record("invite_burnt", address=address, reason="handle_conflicts")
        raise ConflictError("this handle is taken; choose another")

    async def _undo_registration(self, code: str, account_id: str) -> None:
        """Nothing half-written: the invite stays usable and no account holds the handle."""
        try:
            await self._accounts.delete(account_id)
            await self._invites.release(code, account_id)
        except PyMongoError:
            log.warning("registration_undo_failed", account_id=account_id)

    async def me(self, who: Principal) -> tuple[Account, list[Device]]:
        account = await self._accounts.by_id(who.account_id)
        if account is None:
            raise NotFoundError("no such account")
        return account, await self._devices.own(who)

    async def change_password(self, who: Principal, body: PasswordChange) -> None:
        """A stolen session is no password oracle: login's back-off per account and per
        address, and the session ends after `PASSWORD_GUESSES_PER_SESSION` wrong passwords
        in a row."""
        await self.confirm_password(who, body.current_password, "password_change")
        await self._accounts.set_password(
            who.account_id, await self._hasher.hash(body.new_password)
        )
        if body.revoke_other_devices:
            await self._devices.revoke_others(who, reason="password_changed")
        await self._audit.record(
            "password_changed",
            account_id=who.account_id,
            device_id=who.device_id,
            revoked_others=body.revoke_other_devices,
        )

    async def confirm_password(self, who: Principal, password: str, action: str) -> Account:
        """The caller's own password, asked again before a grave step (`action`: changing it,
        deleting the account): back-off as for logins, and the session ends after
        `PASSWORD_GUESSES_PER_SESSION` wrong ones in a row, whichever step they were for."""
        subject = password_change_subject(who.account_id)
        await self._guard.reserve(subject, who.address)
        account = await self._accounts.by_id(who.account_id)
        stored = account.password_hash if account else None
        owner = address_bucket(who.address)
        if not await self._hasher.verify(stored, password, owner) or account is None:
            await self._wrong_current_password(who, subject, action)
            wrong = "current password" if action == "password_change" else "password"
            raise UnauthorizedError(f"the {wrong} is wrong")
        await self._guard.succeeded(subject, who.address)
        return account

    async def _wrong_current_password(self, who: Principal, subject: str, action: str) -> None:
        await self._audit.record(
            f"{action}_failed",
            account_id=who.account_id,
            device_id=who.device_id,
            address=who.address,
        )
        failures = await self._guard.failures(subject)
        if failures < PASSWORD_GUESSES_PER_SESSION:
            return
        await self._sessions.end_session_of(who)
        await self._audit.record(
            f"{action}_session_ended",
            account_id=who.account_id,
            device_id=who.device_id,
            address=who.address,
            failures=failures,
        )
