"""Linking a new device: another device of the same account sends it a secret (the backup key's
private half, boxed to the new device's kx key), delivered once.

The server relays bytes it cannot open; it checks who may send to whom: the sender is the
calling device, the target another active device of the same account (anything else is 404, as
if it did not exist), the box is of a bounded size. The target gets a `link` frame at once if it
has a socket on any replica, and finds every pending link with GET /v1/me/links; a link is gone
once the target acknowledges it (DELETE /v1/me/links/{link_id}) or after `link_ttl_seconds`.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from haven_crypto.crypto import b64e
from services.gateway.model.principal import Principal
from services.gateway.model.records import Link, new_id
from services.gateway.model.schemas import LinkPost
from services.gateway.security.limits import Limits
from services.gateway.sockets.registry import SocketRegistry
from services.gateway.stores.accounts import DeviceRepository
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.links import LinkRepository
from shared.errors import ForbiddenError, NotFoundError, UnprocessableError
from shared.events import utcnow
from shared.frames import LinkFrame

log = structlog.get_logger(__name__)


def link_frame(link: Link) -> LinkFrame:
    return LinkFrame(
        link_id=link.link_id,
        sender_device_id=link.sender_device_id,
        ciphertext=b64e(link.ciphertext),
        created_at=link.created_at,
    )


class Linking:
    def __init__(
        self,
        *,
        links: LinkRepository,
        devices: DeviceRepository,
        sockets: SocketRegistry,
        audit: AuditLog,
        limits: Limits,
        ttl_seconds: float,
    ) -> None:
        self._links = links
        self._devices = devices
        self._sockets = sockets
        self._audit = audit
        self._limits = limits
        self._ttl = timedelta(seconds=ttl_seconds)

    async def send(self, who: Principal, device_id: str, body: LinkPost) -> Link:
        target = await self._devices.by_id(device_id)
        if target is None or target.account_id != who.account_id or not target.active:
            raise NotFoundError("no such device")  # another account's device does not exist
        if body.sender_device_id != who.device_id:
            raise ForbiddenError("sender_device_id must be the device sending the link")
        if device_id == who.device_id:
            raise UnprocessableError("a device cannot link itself", field="device_id")
        await self._limits.check("link", who.account_id, utcnow())
        now = utcnow()
        link = Link(
            link_id=new_id(),
            account_id=who.account_id,
            device_id=device_id,
            sender_device_id=who.device_id,
            ciphertext=body.ciphertext,
            created_at=now,
            expires_at=now + self._ttl,
        )
        await self._links.insert(link)
        await self._audit.record(
            "device_link_sent",
            account_id=who.account_id,
            device_id=who.device_id,
            address=who.address,
            target_device_id=device_id,
            link_id=link.link_id,
        )
        routed = await self._sockets.deliver_frame(device_id, link_frame(link), link.link_id)
        log.info("device_link_sent", link_id=link.link_id, routed=routed)
        return link

    async def pending(self, who: Principal) -> list[Link]:
        return await self._links.pending_for(who.device_id, utcnow())

    async def acknowledge(self, who: Principal, link_id: str) -> None:
        """The device stored the secret: the link is deleted (delivered once). Unknown, expired
        or already acknowledged: 404."""
        if not await self._links.acknowledge(who.device_id, link_id):
            raise NotFoundError("no such link")
        await self._audit.record(
            "device_link_received",
            account_id=who.account_id,
            device_id=who.device_id,
            link_id=link_id,
        )
