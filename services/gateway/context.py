"""Everything the gateway's use cases need, built once per process and passed down."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from services.gateway.devicecache import DeviceCache
from services.gateway.limits import Limits
from services.gateway.messages.crisis import CrisisResources
from services.gateway.outbox import Outbox
from services.gateway.passwords import PasswordHasher
from services.gateway.repository.accounts import Accounts, Devices
from services.gateway.repository.audit import AuditLog, Throttle
from services.gateway.repository.ratelimits import RateBuckets
from services.gateway.repository.relationships import Relationships
from services.gateway.repository.tokens import Invites, RefreshTokens
from services.gateway.tokens import TokenSigner
from services.gateway.ws.admission import PendingSockets
from services.gateway.ws.registry import SocketRegistry
from services.gateway.ws.socket import socket_id_now
from shared.bus import Bus
from shared.deliveries import ControlAction
from shared.errors import HavenError
from shared.events import utcnow
from shared.logging import current_correlation_id
from shared.mongo import Mongo
from shared.settings import GatewaySettings

log = structlog.get_logger(__name__)


def new_id() -> str:
    """Opaque server ids: 96 random bits in [A-Za-z0-9_-]."""
    return secrets.token_urlsafe(12)


@dataclass(frozen=True)
class Principal:
    """Who is calling: from a verified access token whose device is still active."""

    account_id: str
    device_id: str
    role: str
    address: str


@dataclass
class Gateway:
    settings: GatewaySettings
    bus: Bus
    signer: TokenSigner
    hasher: PasswordHasher
    accounts: Accounts
    devices: Devices
    refresh_tokens: RefreshTokens
    invites: Invites
    relationships: Relationships
    audit_log: AuditLog
    throttle: Throttle
    outbox: Outbox
    crisis: CrisisResources
    sockets: SocketRegistry
    device_cache: DeviceCache
    limits: Limits
    pending_sockets: PendingSockets

    @classmethod
    def build(
        cls, settings: GatewaySettings, mongo: Mongo, bus: Bus, signer: TokenSigner
    ) -> Gateway:
        db = mongo.db
        devices = Devices(db)
        return cls(
            settings=settings,
            bus=bus,
            signer=signer,
            hasher=PasswordHasher(
                settings.pwhash_opslimit,
                settings.pwhash_memlimit_mib,
                settings.pwhash_workers,
                settings.pwhash_queue,
            ),
            accounts=Accounts(db),
            devices=devices,
            refresh_tokens=RefreshTokens(db),
            invites=Invites(db),
            relationships=Relationships(db),
            audit_log=AuditLog(db),
            throttle=Throttle(db),
            outbox=Outbox(db, bus),
            crisis=CrisisResources(db),
            sockets=SocketRegistry(bus),
            device_cache=DeviceCache(devices),
            limits=Limits(RateBuckets(db), settings),
            pending_sockets=PendingSockets(settings.ws_unauthenticated_per_address),
        )

    def now(self) -> datetime:
        return utcnow()

    async def close_sockets(self, device_id: str, action: ControlAction = "revoke") -> None:
        """Close the device's sockets on every gateway replica: 4403 (`revoke`) or 4401
        (`reauth`: the session ended but the device did not; sockets opened from now on stay)."""
        cutoff = socket_id_now() if action == "reauth" else None
        try:
            await self.sockets.router.publish_control(device_id, action, cutoff)
        except HavenError as error:
            log.warning("socket_close_not_published", device_id=device_id, reason=str(error))

    async def audit(
        self,
        event_type: str,
        *,
        account_id: str | None = None,
        device_id: str | None = None,
        address: str | None = None,
        **details: Any,
    ) -> None:
        """Security events, metadata only: never passwords, tokens, keys or content."""
        await self.audit_log.insert(
            {
                "_id": new_id(),
                "type": event_type,
                "at": self.now(),
                "account_id": account_id,
                "device_id": device_id,
                "address": address,
                "correlation_id": current_correlation_id(),
                "details": details,
            }
        )
        log.info("audit", type=event_type, account_id=account_id, device_id=device_id)
