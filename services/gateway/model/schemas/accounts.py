"""HTTP bodies of accounts and sessions: registration, login, refresh, passwords, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictBool

from services.gateway.model.schemas.base import (
    DisplayName,
    Key32,
    Password,
    Request,
    Response,
    Role,
    ServerId,
    Sig64,
)


class RegisterRequest(Request):
    handle: Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
    password: Password
    invite_code: Annotated[str, Field(min_length=1, max_length=128)]
    display_name: DisplayName | None = None


class AccountOut(Response):
    account_id: str
    handle: str
    role: Role
    display_name: str


class DeviceBlock(Request):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    identity_key: Key32
    kx_key: Key32
    kx_signature: Sig64
    # Unix seconds. Bounded so arithmetic on it never overflows (a 500); anything in range but
    # far from the server clock is still the 422 `clock_skew` of the device check.
    ts: Annotated[int, Field(strict=True, ge=0, le=10**10)]
    proof: Sig64


class LoginRequest(Request):
    handle: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]
    device: DeviceBlock
    replace_device_id: ServerId | None = None


class SessionOut(Response):
    access_token: str
    refresh_token: str
    expires_in: int
    device_id: str
    account: AccountOut


class RefreshRequest(Request):
    refresh_token: Annotated[str, Field(min_length=1, max_length=128)]


class PasswordChange(Request):
    current_password: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: Password
    revoke_other_devices: StrictBool = False


class ResetCodeOut(Response):
    code: str
    expires_at: datetime


class PasswordResetRequest(Request):
    handle: Annotated[str, Field(min_length=1, max_length=64)]
    code: Annotated[str, Field(min_length=1, max_length=128)]
    new_password: Password


# --- audit -----------------------------------------------------------------------------------


class AuditEntry(Response):
    event_id: str
    type: str
    at: datetime
    account_id: str | None = None
    device_id: str | None = None
    address: str | None = None
    details: dict[str, str | int | bool | None] = Field(default_factory=dict)


class AuditPage(Response):
    entries: list[AuditEntry]
    next_before: str | None
