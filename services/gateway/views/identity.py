"""Views: accounts, sessions and devices. Parse → call → render."""

from __future__ import annotations

from aiohttp import web

from services.gateway.http import (
    caller,
    client_address,
    endpoint,
    gateway,
    no_content,
    parse,
    render,
)
from services.gateway.identity import accounts, sessions
from services.gateway.identity import devices as device_rules
from services.gateway.schemas import (
    AccountDevices,
    AccountOut,
    DeviceDetail,
    DeviceOut,
    KxRotation,
    LoginRequest,
    MeOut,
    PasswordChange,
    RefreshRequest,
    RegisterRequest,
    SessionOut,
)
from shared.mongo import Document


def device_out(device: Document) -> DeviceOut:
    return DeviceOut.model_validate({**device, "device_id": device["_id"]})


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
    account = await accounts.register(gateway(request), body, client_address(request))
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
    return render(await sessions.login(gateway(request), body, client_address(request)), 201)


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
    gw = gateway(request)
    return render(await sessions.refresh(gw, body.refresh_token, client_address(request)))


@endpoint("DELETE", "/v1/sessions/current", "Log out this device", status=204)
async def logout(request: web.Request) -> web.Response:
    await sessions.logout(gateway(request), caller(request))
    return no_content()


@endpoint("PUT", "/v1/me/password", "Change the password", body=PasswordChange, status=204)
async def change_password(request: web.Request) -> web.Response:
    body = await parse(request, PasswordChange)
    await accounts.change_password(gateway(request), caller(request), body)
    return no_content()


@endpoint("GET", "/v1/me", "The caller's account and active devices", response=MeOut)
async def me(request: web.Request) -> web.Response:
    gw, who = gateway(request), caller(request)
    account = await gw.accounts.by_id(who.account_id)
    assert account is not None
    devices = [device_out(d) for d in await gw.devices.active_of(who.account_id)]
    base = sessions.account_out(account)
    return render(MeOut(**base.model_dump(), devices=devices))


@endpoint("DELETE", "/v1/devices/{device_id}", "Revoke one of your devices", status=204)
async def revoke_device(request: web.Request) -> web.Response:
    gw, who = gateway(request), caller(request)
    await device_rules.revoke_own(
        gw, who.account_id, request.match_info["device_id"], reason="revoked_by_owner"
    )
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
    await device_rules.rotate_kx(
        gateway(request), caller(request), request.match_info["device_id"], body
    )
    return no_content()


@endpoint(
    "GET",
    "/v1/accounts/{account_id}/devices",
    "Active devices of a connected account",
    response=AccountDevices,
)
async def account_devices(request: web.Request) -> web.Response:
    account_id = request.match_info["account_id"]
    found = await device_rules.visible_devices(gateway(request), caller(request), account_id)
    return render(AccountDevices(account_id=account_id, devices=[device_out(d) for d in found]))


@endpoint(
    "GET",
    "/v1/devices/{device_id}",
    "A device's public keys, kept after revocation",
    response=DeviceDetail,
)
async def device_detail(request: web.Request) -> web.Response:
    device = await device_rules.visible_device(
        gateway(request), caller(request), request.match_info["device_id"]
    )
    return render(DeviceDetail.model_validate({**device, "device_id": device["_id"]}))
