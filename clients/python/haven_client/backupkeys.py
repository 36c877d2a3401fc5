"""When a sender may wrap for an account's backup key (docs/history.md, the trust rule).

A ``kind: "backup"`` entry is a recipient only once one of its signatures verifies, over
``b"haven-backup-v1\\x00" + handle + b"\\x00" + kx_key``, under the identity key of an
active device in the same listing of that account. Otherwise the send fails loudly
(``UntrustedBackup``): wrapping for it could hand every message to whoever made it,
and leaving it out silently would only have the gateway refuse the send.

The gateway retires a backup key once no active device vouches for it any more, so an
account with no active device lists none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from haven_client import copy_history
from haven_client.errors import UntrustedDevice
from haven_client.models import BackupEntry
from haven_crypto.backup import verify_backup_signature
from haven_crypto.crypto import CryptoError, check_x25519_public


class UntrustedBackup(UntrustedDevice):
    """A listed backup key no active device of its account vouches for: nothing was sent."""

    def __init__(self, backup_id: str, handle: str, reason: str) -> None:
        super().__init__(backup_id, reason)
        self.args = (copy_history.UNTRUSTED_BACKUP.format(name=handle),)
        self.handle = handle


@dataclasses.dataclass(frozen=True, kw_only=True)
class BackupRecipient:
    backup_id: str
    kx_key: bytes


def vouched_backup(
    entry: BackupEntry, handle: str, identity_keys: dict[str, bytes]
) -> BackupRecipient | None:
    """The entry as a recipient if a signature verifies under one of ``identity_keys``
    (device id → identity key), else None."""
    try:
        check_x25519_public(entry.kx_key)
    except CryptoError:
        return None
    for device_id, signature in entry.signatures.items():
        identity = identity_keys.get(device_id)
        if identity is not None and verify_backup_signature(
            identity, handle, entry.kx_key, signature
        ):
            return BackupRecipient(backup_id=entry.device_id, kx_key=entry.kx_key)
    return None


def trusted_backup(
    entries: Iterable[BackupEntry], handle: str, active: dict[str, bytes]
) -> BackupRecipient | None:
    """The recipient to wrap for (None: the account has no backup); raises if untrusted.
    ``active``: device id → identity key of the same listing's active devices."""
    listed = list(entries)
    if not listed:
        return None
    if len(listed) > 1:
        raise UntrustedBackup(listed[1].device_id, handle, "more than one backup key is listed")
    recipient = vouched_backup(listed[0], handle, active)
    if recipient is None:
        raise UntrustedBackup(listed[0].device_id, handle, "no active device signed it")
    return recipient
