"""Helpers for the "history on a new device" tests: backup keys signed like a device does."""

from __future__ import annotations

from typing import Any

import nacl.public

from haven_crypto import crypto
from tools.api import Api, Reply, Session


def backup_signature(who: Session, kx_key: bytes) -> bytes:
    """API.md: Sign(identity, b"haven-backup-v1\\x00" + handle + b"\\x00" + kx_key)."""
    message = b"haven-backup-v1\x00" + who.handle.lower().encode() + b"\x00" + kx_key
    return crypto.sign_detached(who.keys.identity, message)


def backup_body(kx_key: bytes, *signers: Session) -> dict[str, Any]:
    return {
        "kx_key": crypto.b64e(kx_key),
        "signatures": {s.device_id: crypto.b64e(backup_signature(s, kx_key)) for s in signers},
    }


async def publish_backup(
    api: Api, who: Session, *others: Session, key: nacl.public.PrivateKey | None = None
) -> tuple[nacl.public.PrivateKey, Reply]:
    """A fresh backup key pair published from `who` (signed by it and by `others`)."""
    key = key or nacl.public.PrivateKey.generate()
    body = backup_body(bytes(key.public_key), who, *others)
    return key, await api.call("PUT", "/v1/me/backup", body, who.access_token)


async def listing(api: Api, who: Session, account_id: str) -> list[dict[str, Any]]:
    reply = await api.call("GET", f"/v1/accounts/{account_id}/devices", token=who.access_token)
    assert reply.status == 200, reply.body
    return list(reply.body["devices"])


async def recipients_of(api: Api, who: Session, *account_ids: str) -> dict[str, bytes]:
    """Every recipient (devices and backup keys) of these accounts: id -> kx public key."""
    found: dict[str, bytes] = {}
    for account_id in account_ids:
        for entry in await listing(api, who, account_id):
            found[entry["device_id"]] = crypto.b64d(entry["kx_key"])
    return found
