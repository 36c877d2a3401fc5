"""Views: accounts, sessions and devices. Parse → call → render."""

from __future__ import annotations

from aiohttp import web

from services.gateway.edge.http import caller, client_address, endpoint, no_content, parse, render
from services.gateway.edge.keys import accounts_key, devices_key, panic_key, sessions_key
from services.gateway.model.records import Backup, Device
from services.gateway.model.schemas import (
    AccountDevices,
    AccountOut,
    BackupEntryOut,
    DeviceDetail,
    DeviceOut,
    KxRotation,
    LoginRequest,
    MeOut,
    OwnDeviceDetail,
    PasswordChange,
    PeerDeviceOut,
    PreviousKx,
    RefreshRequest,
    RegisterRequest,
    SessionOut,
)
from services.gateway.usecases.sessions import account_out


def device_out(device: Device) -> DeviceOut:
    return DeviceOut(
        device_id=device.device_id,
        name=device.name,
        identity_key=device.identity_key,
        kx_key=device.kx_key,
        kx_signature=device.kx_signature,
        created_at=device.created_at,
        last_seen_at=device.last_seen_at,
    )


def peer_device_out(device: Device) -> PeerDeviceOut:
    return PeerDeviceOut(
        device_id=device.device_id,
        identity_key=device.identity_key,
        kx_key=device.kx_key,
        kx_signature=device.kx_signature,
        created_at=device.created_at,
    )


def backup_entry(backup: Backup | None) -> list[BackupEntryOut]:
    """The account's backup key as its device listing shows it (none: nothing)."""
    if backup is None:
        return []
    return [
        BackupEntryOut(
            device_id=backup.backup_id, kx_key=backup.kx_key, signatures=backup.signatures
        )
    ]


def device_detail(device: Device, *, own: bool) -> DeviceDetail:
    detail = DeviceDetail(
        device_id=device.device_id,
        account_id=device.account_id,
        identity_key=device.identity_key,
        kx_key=device.kx_key,
        kx_signature=device.kx_signature,
        created_at=device.created_at,
        revoked_at=device.revoked_at,
        previous_kx_keys=[
            PreviousKx(kx_key=p.kx_key, kx_signature=p.kx_signature, replaced_at=p.replaced_at)
            for p in device.previous_kx_keys
        ],
    )
    if not own:
        return detail
    return OwnDeviceDetail(**dict(detail), name=device.name)


@endpoint(
    "POST",
    "/v1/accounts",
    "Register with an invite",
    auth=False,
    body=RegisterRequest,
    response=AccountOut,
    status=201,
)
async def register(request: web.Request) -> web.Response:
    body = await parse(request, RegisterRequest)
    account = await request.app[accounts_key].register(body, client_address(request))
    return render(account, 201)


@endpoint(
    "POST",
    "/v1/sessions",
    "Log in on a device (registers new devices)",
    auth=False,
    body=LoginRequest,
    response=SessionOut,
    status=201,
)
async def login(request: web.Request) -> web.Response:
    body = await parse(request, LoginRequest)
    return render(await request.app[sessions_key].login(body, client_address(request)), 201)


@endpoint(
    "POST",
    "/v1/sessions/refresh",
    "Rotate a refresh token",
    auth=False,
    body=RefreshRequest,
    response=SessionOut,
)
async def refresh(request: web.Request) -> web.Response:
    body = await parse(request, RefreshRequest)
    sessions = request.app[sessions_key]
    return render(await sessions.refresh(body.refresh_token, client_address(request)))


@endpoint("DELETE", "/v1/sessions/current", "Log out this device", status=204)
async def logout(request: web.Request) -> web.Response:
    await request.app[sessions_key].logout(caller(request))
    return no_content()


@endpoint("PUT", "/v1/me/password", "Change the password", body=PasswordChange, status=204)
async def change_password(request: web.Request) -> web.Response:
    body = await parse(request, PasswordChange)
    await request.app[accounts_key].change_password(caller(request), body)
    return no_content()


@endpoint("GET", "/v1/me", "The caller's account, active devices and backup key", response=MeOut)
async def me(request: web.Request) -> web.Response:
    who = caller(request)
    account, devices = await request.app[accounts_key].me(who)
    backup = backup_entry(await request.app[devices_key].visible_backup(who, who.account_id))
    base = account_out(account)
    return render(MeOut(**base.model_dump(), devices=[*map(device_out, devices), *backup]))


@endpoint("DELETE", "/v1/devices/{device_id}", "Revoke one of your devices", status=204)
async def revoke_device(request: web.Request) -> web.Response:
    await request.app[devices_key].revoke_own(
        caller(request), request.match_info["device_id"], reason="revoked_by_owner"
    )
    return no_content()


@endpoint(
    "POST",
    "/v1/devices/{device_id}/panic",
    "Panic exit: revoke this device and forget its pushes at once (from the device itself)",
    status=204,
)
async def panic(request: web.Request) -> web.Response:
    await request.app[panic_key].panic(caller(request), request.match_info["device_id"])
    return no_content()


@endpoint(
    "PUT",
    "/v1/devices/{device_id}/kx",
    "Rotate this device's key-agreement key",
    body=KxRotation,
    status=204,
)
async def rotate_kx(request: web.Request) -> web.Response:
    body = await parse(request, KxRotation)
    await request.app[devices_key].rotate_kx(caller(request), request.match_info["device_id"], body)
    return no_content()


@endpoint(
    "GET",
    "/v1/accounts/{account_id}/devices",
    "Active devices (and the backup key) of a connected account",
    response=AccountDevices,
)
async def account_devices(request: web.Request) -> web.Response:
    account_id, who = request.match_info["account_id"], caller(request)
    rules = request.app[devices_key]
    found = await rules.visible_devices(who, account_id)
    backup = backup_entry(await rules.visible_backup(who, account_id))
    if account_id == who.account_id:
        own = [*map(device_out, found), *backup]
        return render(AccountDevices(account_id=account_id, devices=own))
    peers = [*map(peer_device_out, found), *backup]
    return render(AccountDevices(account_id=account_id, devices=peers))


@endpoint(
    "GET",
    "/v1/devices/{device_id}",
    "A device's public keys, kept after revocation",
    response=DeviceDetail,
)
async def get_device(request: web.Request) -> web.Response:
    who = caller(request)
    device = await request.app[devices_key].visible_device(who, request.match_info["device_id"])
    own = device.account_id == who.account_id
    return render(device_detail(device, own=own))
