"""Log in, refresh (rotating, with reuse detection), log out."""

from __future__ import annotations

import secrets
from datetime import timedelta

import structlog

from services.gateway.context import Gateway, Principal, new_id
from services.gateway.identity import devices as device_rules
from services.gateway.limits import address_bucket
from services.gateway.repository.tokens import digest
from services.gateway.schemas import AccountOut, LoginRequest, SessionOut
from services.gateway.tokens import Claims, refresh_successor
from shared.errors import RateLimited, Unauthorized
from shared.events import DeviceData, DeviceSessionEnded, derive_event_id
from shared.logging import current_correlation_id
from shared.mongo import Document

log = structlog.get_logger(__name__)

REFRESH_GRACE = timedelta(seconds=30)
PAIR_FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 30
BACKOFF_CAP = timedelta(minutes=15)
WRONG_CREDENTIALS = "wrong handle or password"


def account_out(account: Document) -> AccountOut:
    return AccountOut(
        account_id=account["_id"],
        handle=account["handle"],
        role=account["role"],
        display_name=account.get("display_name") or account["handle"],
    )


def _throttle_keys(handle: str, address: str) -> tuple[str, str]:
    return f"h:{handle}|a:{address}", address_throttle_key(address)


def address_throttle_key(address: str) -> str:
    """One key per client address for every password check (login and password change)."""
    return f"a:{address_bucket(address)}"


async def reserve_attempt(gw: Gateway, pair_key: str, address_key: str) -> None:
    """Count the attempt before checking the password, so parallel guesses are counted too."""
    now = gw.now()
    for key, free in ((pair_key, PAIR_FREE_FAILURES), (address_key, ADDRESS_FREE_FAILURES)):
        blocked = await gw.throttle.reserve(key, now, free, BACKOFF_CAP)
        if blocked is not None:
            raise RateLimited(retry_after=max(1, int((blocked - now).total_seconds()) + 1))


async def login(gw: Gateway, body: LoginRequest, address: str) -> SessionOut:
    handle = body.handle.lower()
    device_rules.check_device_block(gw, handle, body.device)
    pair_key, address_key = _throttle_keys(handle, address)
    await reserve_attempt(gw, pair_key, address_key)
    account = await gw.accounts.by_handle(handle)
    stored = account["password_hash"] if account else None
    if not await gw.hasher.verify(stored, body.password) or account is None:
        await gw.audit("login_failed", address=address, handle_known=account is not None)
        raise Unauthorized(WRONG_CREDENTIALS)
    await gw.throttle.clear(pair_key)
    await gw.throttle.release(address_key)
    if gw.hasher.needs_rehash(account["password_hash"]):
        await gw.accounts.set_password(account["_id"], await gw.hasher.hash(body.password))
    device, is_new = await device_rules.register_or_resume(
        gw, account, body.device, body.replace_device_id
    )
    if is_new:
        await gw.audit("device_added", account_id=account["_id"], device_id=device["_id"])
    await gw.audit(
        "login_succeeded",
        account_id=account["_id"],
        device_id=device["_id"],
        address=address,
        resumed=not is_new,
    )
    return await _issue(gw, account, device, secrets.token_urlsafe(32))


async def _issue(gw: Gateway, account: Document, device: Document, refresh: str) -> SessionOut:
    now = gw.now()
    await gw.refresh_tokens.insert(
        refresh,
        {
            "device_id": device["_id"],
            "account_id": account["_id"],
            "session": device["session"],
            "created_at": now,
            "expires_at": now + timedelta(days=gw.settings.refresh_token_days),
            "spent_at": None,
            "successor_seed": secrets.token_bytes(32),
        },
    )
    lifetime = gw.settings.access_token_seconds
    access = gw.signer.issue(
        Claims(
            account_id=account["_id"],
            device_id=device["_id"],
            role=account["role"],
            session=int(device["session"]),
            expires_at=int(now.timestamp()) + lifetime,
        )
    )
    return SessionOut(
        access_token=access,
        refresh_token=refresh,
        expires_in=lifetime,
        device_id=device["_id"],
        account=account_out(account),
    )


async def refresh(gw: Gateway, token: str, address: str) -> SessionOut:
    record = await gw.refresh_tokens.find(token)
    now = gw.now()
    if record is None or record["expires_at"] <= now:
        raise Unauthorized("unknown or expired refresh token")
    device = await gw.devices.by_id(record["device_id"])
    account = await gw.accounts.by_id(record["account_id"])
    if (
        device is None
        or account is None
        or account.get("status") != "active"
        or device.get("revoked_at") is not None
        or device["session"] != record["session"]
    ):
        raise Unauthorized("this session has ended")
    if device["last_seen_at"] < now - timedelta(days=gw.settings.device_expiry_days):
        await device_rules.revoke(gw, device, reason="expired")
        raise Unauthorized("this device expired")
    successor = _successor(gw, token, record)
    if await gw.refresh_tokens.spend(token, now, successor) is None:
        await _check_replay(gw, token, successor, device, address)
    await gw.devices.touch(device["_id"], now)
    return await _issue(gw, account, device, successor)


def _successor(gw: Gateway, token: str, record: Document) -> str:
    seed = record.get("successor_seed")
    if seed is None:  # a record from before seeds existed (lives at most refresh_token_days)
        return gw.signer.refresh_successor(token)
    return refresh_successor(token, bytes(seed))


async def _check_replay(
    gw: Gateway, token: str, successor: str, device: Document, address: str
) -> None:
    """A spent token gets, within the grace period, the very successor it got when it was spent
    (a lost answer or a parallel refresh is no attack): never a second chain. Later, it ends
    the device session."""
    spent = await gw.refresh_tokens.find(token)
    if spent is None or spent.get("spent_at") is None:
        raise Unauthorized("unknown or expired refresh token")
    if gw.now() - spent["spent_at"] > REFRESH_GRACE:
        await end_session(gw, device)
        await gw.audit(
            "refresh_reuse_detected",
            account_id=device["account_id"],
            device_id=device["_id"],
            address=address,
        )
        raise Unauthorized("refresh token reused; the session was revoked")
    if spent.get("successor", digest(successor)) != digest(successor):
        raise Unauthorized("this refresh token was used already; continue with its successor")


async def end_session(gw: Gateway, device: Document) -> None:
    """Every access and refresh token of the device's current session stops working."""
    await gw.devices.end_session(device["_id"])
    gw.device_cache.invalidate(device["_id"])
    await gw.close_sockets(device["_id"])
    await gw.outbox.emit(
        DeviceSessionEnded(
            event_id=derive_event_id("device.session_ended", f"{device['_id']}:{new_id()}"),
            correlation_id=current_correlation_id(),
            data=DeviceData(account_id=device["account_id"], device_id=device["_id"]),
        )
    )


async def logout(gw: Gateway, who: Principal) -> None:
    device = await gw.devices.by_id(who.device_id)
    if device is not None:
        await end_session(gw, device)
    await gw.audit("logout", account_id=who.account_id, device_id=who.device_id)
