"""Events of history on a new device, password resets and device expiry (``client.events()``).

Each carries a calm ``notice`` an app can show as it is (``copy_history.py``).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from haven_client import copy_history


@dataclasses.dataclass(frozen=True, kw_only=True)
class AccountNotice:
    """An ``account`` frame: ``password_reset`` of this account (``own``; this device's session
    ends with it) or of a counterpart's (nothing changes for the conversation)."""

    account_id: str
    event: str
    own: bool
    name: str = ""

    @property
    def notice(self) -> str:
        if self.own:
            return copy_history.PASSWORD_RESET_OWN
        return copy_history.PASSWORD_RESET_OTHER.format(name=self.name or "Your contact")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeviceExpiring:
    """This device will be signed out at ``expires_at`` unless it is used before then."""

    device_id: str
    expires_at: datetime | None

    @property
    def notice(self) -> str:
        at = self.expires_at
        when = f"{at.day} {at:%B %Y}" if at else "a date soon"  # as the push says it
        return copy_history.DEVICE_EXPIRING.format(date=when)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LinkOffered:
    """Another device of this account sent this device a link (``client.link.accept``)."""

    link_id: str
    sender_device_id: str

    @property
    def notice(self) -> str:
        return copy_history.LINK_ARRIVED


def account_notice(frame: dict[str, Any], own_account_id: str, name: str = "") -> AccountNotice:
    account_id = str(frame["account_id"])
    return AccountNotice(
        account_id=account_id,
        event=str(frame.get("event", "")),
        own=account_id == own_account_id,
        name=name,
    )


def device_expiring(frame: dict[str, Any]) -> DeviceExpiring:
    raw = frame.get("expires_at")
    when = datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else None
    return DeviceExpiring(device_id=str(frame["device_id"]), expires_at=when)


def link_offered(frame: dict[str, Any]) -> LinkOffered:
    return LinkOffered(
        link_id=str(frame["link_id"]), sender_device_id=str(frame["sender_device_id"])
    )
