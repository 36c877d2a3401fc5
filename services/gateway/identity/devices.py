"""Device registration, resumption, revocation, key rotation and visibility rules."""

from __future__ import annotations

from datetime import timedelta

from services.gateway.context import Gateway, Principal, new_id
from services.gateway.repository.accounts import MAX_ACTIVE_DEVICES, AlreadyExists
from services.gateway.schemas import DeviceBlock, KxRotation
from shared import crypto
from shared.errors import (
    ClockSkew,
    DeviceLimit,
    Forbidden,
    InvalidKey,
    NotFound,
    SignatureInvalid,
)
from shared.events import DeviceAdded, DeviceData, DeviceRemoved, DeviceUpdated, derive_event_id
from shared.logging import current_correlation_id
from shared.mongo import Document

CLOCK_SKEW = timedelta(seconds=300)


def check_device_block(gw: Gateway, handle: str, block: DeviceBlock) -> None:
    """Everything about the device is verified before the password is even looked at."""
    now = gw.now()
    if abs(now.timestamp() - block.ts) > CLOCK_SKEW.total_seconds():
        raise ClockSkew("ts is too far from the server clock", server_time=int(now.timestamp()))
    check_kx_key(block.kx_key)
    if not crypto.verify_kx_signature(block.identity_key, handle, block.kx_key, block.kx_signature):
        raise SignatureInvalid("kx_signature does not verify for this handle")
    if not crypto.verify_login_proof(
        block.identity_key, handle, block.ts, block.kx_key, block.proof
    ):
        raise SignatureInvalid("proof does not verify")


def check_kx_key(kx_key: bytes) -> None:
    try:
        crypto.check_x25519_public(kx_key)
    except crypto.CryptoError as error:
        raise InvalidKey("kx_key is not an acceptable X25519 public key", field="kx_key") from error


async def register_or_resume(
    gw: Gateway, account: Document, block: DeviceBlock, replace_device_id: str | None
) -> tuple[Document, bool]:
    """Returns the device and whether it is new. Identity keys are never reused."""
    existing = await gw.devices.by_identity_key(block.identity_key)
    if existing is not None:
        return await _resume(gw, account, existing, block), False
    replaced = await _own_active(gw, account["_id"], replace_device_id)
    device = _new_device(gw, account["_id"], block)
    try:
        await gw.devices.insert(device)
    except AlreadyExists:
        # A parallel login with the same new key won the insert: resume that device.
        raced = await gw.devices.by_identity_key(block.identity_key)
        if raced is None:
            raise SignatureInvalid("this identity key cannot be used") from None
        return await _resume(gw, account, raced, block), False
    if replaced is not None:
        await revoke(gw, replaced, reason="replaced")
    # Checked after the insert, so parallel logins cannot all slip under the limit.
    if await gw.devices.count_active(account["_id"]) > MAX_ACTIVE_DEVICES:
        await gw.devices.delete(device["_id"])  # never announced or used: no trace needed
        raise DeviceLimit(f"at most {MAX_ACTIVE_DEVICES} active devices; name replace_device_id")
    await gw.outbox.emit(
        DeviceAdded(
            event_id=derive_event_id("device.added", device["_id"]),
            correlation_id=current_correlation_id(),
            data=DeviceData(account_id=account["_id"], device_id=device["_id"]),
        )
    )
    return device, True


async def _resume(
    gw: Gateway, account: Document, existing: Document, block: DeviceBlock
) -> Document:
    """The same identity key on the same account's active device: a new session for it."""
    if existing["account_id"] != account["_id"] or existing.get("revoked_at") is not None:
        raise SignatureInvalid("this identity key cannot be used")
    resumed = await gw.devices.new_session(existing["_id"], gw.now())
    if resumed is None:
        raise SignatureInvalid("this identity key cannot be used")
    if existing["name"] != block.name:
        resumed = await gw.devices.update(existing["_id"], {"name": block.name}) or resumed
    if existing["kx_key"] != block.kx_key:
        await gw.devices.rotate_kx(existing["_id"], block.kx_key, block.kx_signature, gw.now())
        resumed = await gw.devices.by_id(existing["_id"]) or resumed
        await _keys_changed(gw, account["_id"], existing["_id"])
    gw.device_cache.invalidate(existing["_id"])
    await gw.close_sockets(existing["_id"], "reauth")  # the old session's sockets end with it
    return resumed


async def _own_active(gw: Gateway, account_id: str, device_id: str | None) -> Document | None:
    if device_id is None:
        return None
    device = await gw.devices.by_id(device_id)
    if device is None or device["account_id"] != account_id or device.get("revoked_at"):
        raise NotFound("replace_device_id is not one of your active devices")
    return device


def _new_device(gw: Gateway, account_id: str, block: DeviceBlock) -> Document:
    now = gw.now()
    return {
        "_id": new_id(),
        "account_id": account_id,
        "name": block.name,
        "identity_key": block.identity_key,
        "kx_key": block.kx_key,
        "kx_signature": block.kx_signature,
        "created_at": now,
        "last_seen_at": now,
        "revoked_at": None,
        "session": 1,
    }


async def revoke_own(gw: Gateway, account_id: str, device_id: str, *, reason: str) -> None:
    """Idempotent: revoking a revoked own device is a silent no-op once it was announced
    (an earlier attempt that failed half way is completed instead)."""
    device = await gw.devices.by_id(device_id)
    if device is None or device["account_id"] != account_id:
        raise NotFound("no such device")
    if device.get("revoked_at") is not None and device.get("removal_announced"):
        return
    await gw.limits.check("device_ops", account_id, gw.now())
    await revoke(gw, device, reason=reason)


async def revoke(gw: Gateway, device: Document, *, reason: str) -> None:
    """Revoke, close its sockets everywhere, announce. Safe to repeat after a partial failure:
    the event id is derived from the device, so a second announcement dedupes downstream."""
    newly = await gw.devices.revoke(device["_id"], gw.now())
    gw.device_cache.invalidate(device["_id"])
    await gw.close_sockets(device["_id"])
    await gw.outbox.emit(
        DeviceRemoved(
            event_id=derive_event_id("device.removed", device["_id"]),
            correlation_id=current_correlation_id(),
            data=DeviceData(account_id=device["account_id"], device_id=device["_id"]),
        )
    )
    await gw.devices.removal_announced(device["_id"])
    if newly:
        await gw.audit(
            "device_removed",
            account_id=device["account_id"],
            device_id=device["_id"],
            reason=reason,
        )


async def rotate_kx(gw: Gateway, who: Principal, device_id: str, body: KxRotation) -> None:
    if device_id != who.device_id:
        device = await gw.devices.by_id(device_id)
        if device is None or device["account_id"] != who.account_id:
            raise NotFound("no such device")
        raise Forbidden("a device rotates its own key-agreement key")
    await gw.limits.check("kx", device_id, gw.now())
    account = await gw.accounts.by_id(who.account_id)
    assert account is not None
    check_kx_key(body.kx_key)
    device = await gw.devices.by_id(device_id)
    assert device is not None
    if not crypto.verify_kx_signature(
        device["identity_key"], account["handle"], body.kx_key, body.kx_signature
    ):
        raise SignatureInvalid("kx_signature does not verify for this device and handle")
    await gw.devices.rotate_kx(device_id, body.kx_key, body.kx_signature, gw.now())
    await _keys_changed(gw, who.account_id, device_id)
    await gw.audit("device_kx_rotated", account_id=who.account_id, device_id=device_id)


async def _keys_changed(gw: Gateway, account_id: str, device_id: str) -> None:
    """Counterparts learn (devices_changed) that this device's public keys changed."""
    await gw.outbox.emit(
        DeviceUpdated(
            event_id=derive_event_id("device.updated", f"{device_id}:{new_id()}"),
            correlation_id=current_correlation_id(),
            data=DeviceData(account_id=account_id, device_id=device_id),
        )
    )


async def may_see(gw: Gateway, who: Principal, account_id: str) -> bool:
    """Yourself, or an account you have or had a relationship with."""
    return account_id == who.account_id or await gw.relationships.connected(
        who.account_id, account_id
    )


async def visible_devices(gw: Gateway, who: Principal, account_id: str) -> list[Document]:
    if not await may_see(gw, who, account_id):
        raise NotFound("no such account")
    return await gw.devices.active_of(account_id)


async def visible_device(gw: Gateway, who: Principal, device_id: str) -> Document:
    device = await gw.devices.by_id(device_id)
    if device is None or not await may_see(gw, who, device["account_id"]):
        raise NotFound("no such device")
    return device


async def expire_unseen(gw: Gateway) -> int:
    """Revoke devices unseen for the operator's expiry period."""
    cutoff = gw.now() - timedelta(days=gw.settings.device_expiry_days)
    stale = await gw.devices.unseen_since(cutoff)
    for device in stale:
        await revoke(gw, device, reason="expired")
    return len(stale)
