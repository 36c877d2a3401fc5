"""HTTP bodies of devices: what a counterpart sees, the owner's view, kx rotation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from services.gateway.model.schemas.accounts import AccountOut
from services.gateway.model.schemas.base import B64_OUT, Key32, Request, Response, Sig64


class PeerDeviceOut(Response):
    """A device as a counterpart sees it: public keys only, never a name or when it was last
    seen (a key list must never become a presence signal)."""

    device_id: str
    kind: Literal["device"] = "device"
    identity_key: Annotated[bytes, B64_OUT]
    kx_key: Annotated[bytes, B64_OUT]
    kx_signature: Annotated[bytes, B64_OUT]
    created_at: datetime


class BackupEntryOut(Response):
    """An account's backup key in its device listing: a recipient senders wrap for like a
    device (API.md "History on a new device"); `device_id` is the backup id."""

    device_id: str
    kind: Literal["backup"] = "backup"
    kx_key: Annotated[bytes, B64_OUT]
    signatures: dict[str, Annotated[bytes, B64_OUT]]


class DeviceOut(PeerDeviceOut):
    """One of the caller's own devices."""

    name: str
    last_seen_at: datetime | None = None


class PreviousKx(Response):
    """A kx key the device rotated away from; messages sealed before `replaced_at` used it."""

    kx_key: Annotated[bytes, B64_OUT]
    kx_signature: Annotated[bytes, B64_OUT]
    replaced_at: datetime


class DeviceDetail(Response):
    """Public keys kept forever for participants (no name: see OwnDeviceDetail)."""

    device_id: str
    account_id: str
    identity_key: Annotated[bytes, B64_OUT]
    kx_key: Annotated[bytes, B64_OUT]
    kx_signature: Annotated[bytes, B64_OUT]
    created_at: datetime
    revoked_at: datetime | None
    previous_kx_keys: list[PreviousKx] = Field(default_factory=list)


class OwnDeviceDetail(DeviceDetail):
    """The owner's view of one of their devices also names it."""

    name: str


class MeOut(AccountOut):
    devices: list[DeviceOut | BackupEntryOut]


class AccountDevices(Response):
    account_id: str
    devices: list[DeviceOut | BackupEntryOut] | list[PeerDeviceOut | BackupEntryOut]


class KxRotation(Request):
    kx_key: Key32
    kx_signature: Sig64
