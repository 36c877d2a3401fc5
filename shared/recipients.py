"""Message recipients that are not devices: an account's published backup key (API.md, "History
on a new device").

A backup key is wrapped for like a device and listed with the devices, so its id stands in an
envelope's `keys` beside device ids; nothing ever holds a socket or a push subscription for it.
Its id carries a prefix and a length no device id has (device ids are 16 characters), so every
service can tell it apart from the id alone, with no lookup on the hot path of a message.
"""

from __future__ import annotations

import secrets

BACKUP_ID_PREFIX = "backup-"
_BACKUP_ID_LENGTH = len(BACKUP_ID_PREFIX) + 16


def new_backup_id() -> str:
    """`backup-` and 96 random bits in [A-Za-z0-9_-]: opaque to clients like any server id."""
    return BACKUP_ID_PREFIX + secrets.token_urlsafe(12)


def is_backup_id(value: str) -> bool:
    return len(value) == _BACKUP_ID_LENGTH and value.startswith(BACKUP_ID_PREFIX)


def device_recipients(recipient_ids: list[str]) -> list[str]:
    """The recipients a frame or a push can reach: every one but a backup key."""
    return [value for value in recipient_ids if not is_backup_id(value)]
