"""Accounts: invite-only registration, the bootstrap operator, password changes."""

from __future__ import annotations

import re
from typing import NoReturn

import structlog
from pymongo.errors import PyMongoError

from services.gateway.context import Gateway, Principal, new_id
from services.gateway.identity import devices as device_rules
from services.gateway.identity import relationships
from services.gateway.identity.sessions import (
    account_out,
    address_throttle_key,
    end_session,
    reserve_attempt,
)
from services.gateway.limits import address_bucket
from services.gateway.repository.accounts import AlreadyExists
from services.gateway.schemas import AccountOut, PasswordChange, RegisterRequest
from shared.errors import Conflict, InviteInvalid, Unauthorized
from shared.mongo import Document

log = structlog.get_logger(__name__)

HANDLE = re.compile(r"[a-z0-9_.-]{3,32}")
# Wrong current passwords in a row (on the account, since the last success) that end the
# session making the attempt: its owner would have logged in again long before.
PASSWORD_GUESSES_PER_SESSION = 5


async def _insert_account(
    gw: Gateway,
    handle: str,
    password: str,
    role: str,
    display_name: str | None,
    account_id: str | None = None,
) -> Document:
    account = {
        "_id": account_id or new_id(),
        "handle": handle,
        "role": role,
        "display_name": display_name or handle,
        "password_hash": await gw.hasher.hash(password),
        "status": "active",
        "created_at": gw.now(),
    }
    try:
        await gw.accounts.insert(account)
    except AlreadyExists as error:
        raise Conflict("this handle is taken") from error
    return account


async def register(gw: Gateway, body: RegisterRequest, address: str) -> AccountOut:
    """The invite decides the role; a client invite also starts the relationship.

    Cheap checks come first: the address's registration rate, the invite, then whether the
    handle is free — so neither enumerating handles nor a flood of requests ever reaches
    the password hash. The unique index on handles still decides a race.
    """
    handle = body.handle.lower()
    await gw.limits.check("register", address_bucket(address), gw.now())
    invite = await gw.invites.usable(body.invite_code, gw.now())
    if invite is None:
        raise InviteInvalid("this invite is unknown, used or expired")
    coach = None
    if invite["kind"] == "client":
        coach = await gw.accounts.by_id(invite["created_by"])
        if coach is None or coach.get("status") != "active":
            raise InviteInvalid("the coach behind this invite is no longer available")
    if await gw.accounts.by_handle(handle) is not None:
        await _handle_taken(gw, body.invite_code, address)
    account_id = new_id()
    if await gw.invites.claim(body.invite_code, account_id, gw.now()) is None:
        raise InviteInvalid("this invite is unknown, used or expired")
    try:
        account = await _insert_account(
            gw, handle, body.password, invite["kind"], body.display_name, account_id
        )
        if coach is not None:
            await relationships.start(gw, coach_id=coach["_id"], client_id=account_id)
    except (Conflict, PyMongoError) as error:
        await _undo_registration(gw, body.invite_code, account_id)
        if isinstance(error, Conflict):
            await _handle_taken(gw, body.invite_code, address)
        raise
    await gw.audit(
        "account_registered", account_id=account["_id"], address=address, role=account["role"]
    )
    await gw.audit(
        "invite_redeemed",
        account_id=account["_id"],
        invite_kind=invite["kind"],
        created_by=invite["created_by"],
    )
    return account_out(account)


async def _handle_taken(gw: Gateway, code: str, address: str) -> NoReturn:
    """409, counted against the invite: after a few conflicts it is burnt."""
    if await gw.invites.conflicted(code, gw.settings.invite_conflicts, gw.now()):
        await gw.audit("invite_burnt", address=address, reason="handle_conflicts")
    raise Conflict("this handle is taken; choose another")


async def _undo_registration(gw: Gateway, code: str, account_id: str) -> None:
    """Nothing half-written: the invite stays usable and no account holds the handle."""
    try:
        await gw.accounts.delete(account_id)
        await gw.invites.release(code, account_id)
    except PyMongoError:
        log.warning("registration_undo_failed", account_id=account_id)


async def ensure_bootstrap_operator(gw: Gateway) -> bool:
    """Create the first operator from configuration when no operator exists yet."""
    handle = gw.settings.bootstrap_operator_handle
    password = gw.settings.bootstrap_operator_password
    if not handle or not password or await gw.accounts.any_operator():
        return False
    return await create_operator(gw, handle, password)


async def create_operator(gw: Gateway, handle: str, password: str) -> bool:
    if not HANDLE.fullmatch(handle.lower()):
        log.error("operator_handle_invalid", rule="3-32 of [a-z0-9_.-]")
        return False
    try:
        account = await _insert_account(gw, handle.lower(), password, "operator", None)
    except Conflict:
        log.warning("operator_handle_taken", handle=handle.lower())
        return False
    await gw.audit("operator_created", account_id=account["_id"])
    return True


async def change_password(gw: Gateway, who: Principal, body: PasswordChange) -> None:
    """A stolen session is no password oracle: login's back-off per account and per address,
    and the session ends after `PASSWORD_GUESSES_PER_SESSION` wrong passwords in a row."""
    account_key, address_key = f"pw:{who.account_id}", address_throttle_key(who.address)
    await reserve_attempt(gw, account_key, address_key)
    account = await gw.accounts.by_id(who.account_id)
    stored = account["password_hash"] if account else None
    if not await gw.hasher.verify(stored, body.current_password) or account is None:
        await _wrong_current_password(gw, who, account_key)
        raise Unauthorized("current password is wrong")
    await gw.throttle.clear(account_key)
    await gw.throttle.release(address_key)
    await gw.accounts.set_password(who.account_id, await gw.hasher.hash(body.new_password))
    if body.revoke_other_devices:
        for device in await gw.devices.active_of(who.account_id):
            if device["_id"] != who.device_id:
                await device_rules.revoke(gw, device, reason="password_changed")
    await gw.audit(
        "password_changed",
        account_id=who.account_id,
        device_id=who.device_id,
        revoked_others=body.revoke_other_devices,
    )


async def _wrong_current_password(gw: Gateway, who: Principal, account_key: str) -> None:
    await gw.audit(
        "password_change_failed",
        account_id=who.account_id,
        device_id=who.device_id,
        address=who.address,
    )
    failures = await gw.throttle.failures(account_key)
    if failures < PASSWORD_GUESSES_PER_SESSION:
        return
    device = await gw.devices.by_id(who.device_id)
    if device is not None:
        await end_session(gw, device)
    await gw.audit(
        "password_change_session_ended",
        account_id=who.account_id,
        device_id=who.device_id,
        address=who.address,
        failures=failures,
    )
