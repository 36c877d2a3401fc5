"""In-memory domain of the fake gateway: accounts, devices, tokens, conversations, messages."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.availability_contracts import Availability

CRISIS_RESOURCES = [
    {
        "name": "Crisis Line",
        "contact": "988",
        "description": "24/7 support by phone or text",
        "region": "US",
    }
]


class ProblemError(Exception):
    """Rendered as application/problem+json by the fake's middleware."""

    def __init__(self, status: int, code: str, detail: str = "", **extra: Any) -> None:
        super().__init__(f"{status} {code} {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(9).replace('-', 'x').replace('_', 'y')}"


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclasses.dataclass
class Account:
    account_id: str
    handle: str
    password: str
    role: str
    display_name: str

    def public(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "handle": self.handle,
            "role": self.role,
            "display_name": self.display_name,
        }


@dataclasses.dataclass
class Device:
    device_id: str
    account_id: str
    name: str
    identity_key: bytes
    kx_key: bytes
    kx_signature: bytes
    created_at: datetime
    revoked_at: datetime | None = None


@dataclasses.dataclass
class Token:
    device_id: str
    account_id: str
    expires_at: float


@dataclasses.dataclass
class Conversation:
    conversation_id: str
    coach_id: str
    client_id: str
    status: str = "active"

    @property
    def participants(self) -> tuple[str, str]:
        return (self.coach_id, self.client_id)


@dataclasses.dataclass
class Stored:
    message_id: str
    conversation_id: str
    seq: int
    sender_account_id: str
    sender_device_id: str
    server_ts: datetime
    urgent: bool
    envelope: dict[str, Any] | None
    signature: str

    def item(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "seq": self.seq,
            "sender_account_id": self.sender_account_id,
            "sender_device_id": self.sender_device_id,
            "server_ts": iso(self.server_ts),
            "urgent": self.urgent,
            "deleted": self.envelope is None,
            "envelope": self.envelope,
        }


@dataclasses.dataclass
class FakeState:
    """Everything the fake knows, plus knobs tests turn to misbehave like a hostile server."""

    access_lifetime: int = 300
    accounts: dict[str, Account] = dataclasses.field(default_factory=dict)
    devices: dict[str, Device] = dataclasses.field(default_factory=dict)
    access: dict[str, Token] = dataclasses.field(default_factory=dict)
    refresh: dict[str, str] = dataclasses.field(default_factory=dict)
    invites: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    conversations: dict[str, Conversation] = dataclasses.field(default_factory=dict)
    messages: dict[str, list[Stored]] = dataclasses.field(default_factory=dict)
    push_subscriptions: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    """device id → (url, secret)"""
    notification_settings: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    availability: dict[str, Availability] = dataclasses.field(default_factory=dict)
    # test knobs and records
    push_allowed_hosts: set[str] | None = None
    """Hosts a push URL may name (None: any), like ``HAVEN_PUSH_ALLOWED_HOSTS``."""
    availability_status: dict[str, tuple[bool, datetime | None]] = dataclasses.field(
        default_factory=dict
    )
    """account id → (available_now, next_available_at) the fake answers (default: available)."""
    away_noticed: set[str] = dataclasses.field(default_factory=set)
    """Conversations already sent a ``coach_away`` in the current unavailable stretch."""
    clock: Callable[[], datetime] = now
    """The fake's wall clock for availability (whether an away period covers "now")."""
    notify_requests: list[tuple[str, str, Any]] = dataclasses.field(default_factory=list)
    """(method, path, JSON body) of every push, settings and availability change."""
    tamper_next: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    hidden_devices: set[str] = dataclasses.field(default_factory=set)
    """Devices a lying server leaves out of every listing while ``GET /v1/devices/{id}``
    still answers for them (see ``tests.sdk_fakes.hostile``)."""
    deliver: bool = True
    acks: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    refreshes: int = 0
    mismatches: int = 0
    clock_skews: int = 0
    ws_connects: dict[str, int] = dataclasses.field(default_factory=dict)
    ws_auth_frames: int = 0
    ws_expired_closes: int = 0
    changed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    async def wait_until(self, check: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait for a condition on the records; the hub sets ``changed`` on every frame."""
        async with asyncio.timeout(timeout):
            while not check():
                self.changed.clear()
                await self.changed.wait()

    def by_handle(self, handle: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.handle == handle.lower()), None)

    def add_account(self, handle: str, password: str, role: str, display_name: str) -> Account:
        account = Account(new_id("acc"), handle.lower(), password, role, display_name or handle)
        self.accounts[account.account_id] = account
        return account

    def active_devices(self, account_id: str) -> list[Device]:
        return [
            d
            for d in self.devices.values()
            if d.account_id == account_id
            and d.revoked_at is None
            and d.device_id not in self.hidden_devices
        ]

    def issue(self, device: Device) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access[access] = Token(
            device.device_id, device.account_id, time.monotonic() + self.access_lifetime
        )
        self.refresh[refresh] = device.device_id
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": self.access_lifetime,
            "device_id": device.device_id,
            "account": self.accounts[device.account_id].public(),
        }

    def end_sessions(self, device_id: str) -> None:
        for table in (self.access, self.refresh):
            for key, value in list(table.items()):
                if (value.device_id if isinstance(value, Token) else value) == device_id:
                    del table[key]

    def related(self, a: str, b: str) -> bool:
        return a == b or any({a, b} == set(c.participants) for c in self.conversations.values())

    def counterpart_accounts(self, account_id: str) -> set[str]:
        return {
            other
            for c in self.conversations.values()
            if account_id in c.participants
            for other in c.participants
        }

    def device_public(self, device: Device, *, detail: bool) -> dict[str, Any]:
        from haven_crypto.crypto import b64e

        body = {
            "device_id": device.device_id,
            "name": device.name,
            "identity_key": b64e(device.identity_key),
            "kx_key": b64e(device.kx_key),
            "kx_signature": b64e(device.kx_signature),
            "created_at": iso(device.created_at),
        }
        if detail:
            body |= {"account_id": device.account_id, "revoked_at": iso(device.revoked_at)}
        else:
            body["last_seen_at"] = iso(device.created_at)
        return body
