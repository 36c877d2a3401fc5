"""The wire of "History on a new device" (API.md): the backup key, links, password resets.
Typed calls only; the crypto and the checks live in ``backup.py`` and ``link.py``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from haven_client.errors import NotFound
from haven_client.models import Key32, Sig64, Timestamp, Wire
from haven_client.transport import Transport
from haven_crypto.crypto import b64e


class BackupInfo(Wire):
    """``GET /v1/me/backup``; ``earlier_backup_ids`` name the same key published before
    (wraps for them open with the same recovery key)."""

    backup_id: str
    kx_key: Key32
    signatures: dict[str, Sig64]
    created_at: Timestamp | None = None
    earlier_backup_ids: list[str] = []

    @property
    def all_ids(self) -> list[str]:
        return [self.backup_id, *self.earlier_backup_ids]


class PendingLink(Wire):
    """A secret another device of this account boxed to this device (``GET /v1/me/links``,
    or a ``link`` frame)."""

    link_id: str
    sender_device_id: str
    ciphertext: str
    created_at: Timestamp | None = None
    expires_at: Timestamp | None = None


class LinkSent(Wire):
    link_id: str = ""
    expires_at: Timestamp | None = None


def _seg(value: str) -> str:
    return quote(value, safe="")


class HistoryApi:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def backup(self) -> BackupInfo | None:
        try:
            body = await self._transport.request("GET", "/v1/me/backup")
        except NotFound:
            return None
        return BackupInfo.model_validate(body)

    async def put_backup(self, kx_key: bytes, signatures: dict[str, bytes]) -> BackupInfo:
        body: dict[str, Any] = {
            "kx_key": b64e(kx_key),
            "signatures": {device: b64e(sig) for device, sig in signatures.items()},
        }
        answer = await self._transport.request("PUT", "/v1/me/backup", json=body)
        return BackupInfo.model_validate(answer)

    async def delete_backup(self) -> None:
        await self._transport.request("DELETE", "/v1/me/backup")

    async def send_link(self, device_id: str, ciphertext: str, sender_device_id: str) -> LinkSent:
        body = {"ciphertext": ciphertext, "sender_device_id": sender_device_id}
        path = f"/v1/devices/{_seg(device_id)}/link"
        answer = await self._transport.request("POST", path, json=body)
        return LinkSent.model_validate(answer or {})

    async def links(self) -> list[PendingLink]:
        answer = await self._transport.request("GET", "/v1/me/links")
        return [PendingLink.model_validate(item) for item in answer.get("links", [])]

    async def drop_link(self, link_id: str) -> None:
        """Acknowledge a link once its secret is stored (or refused): it is not offered again."""
        try:
            await self._transport.request("DELETE", f"/v1/me/links/{_seg(link_id)}")
        except NotFound:
            return

    async def reset_password(self, handle: str, code: str, new_password: str) -> None:
        body = {"handle": handle, "code": code, "new_password": new_password}
        await self._transport.request("POST", "/v1/password-resets", json=body, auth=False)
