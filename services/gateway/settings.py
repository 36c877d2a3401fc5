"""The gateway's configuration: HTTP edge, token signing, password hashing and rate limits."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from services.gateway.model.rates import Rate
from shared.settings import CommonSettings, password_problem


class GatewaySettings(CommonSettings):
    """The edge: ports, signing keys, token lifetimes, argon2id cost and rate limits."""

    gateway_port: int = Field(default=8080, ge=1, le=65535)
    gateway_ops_port: int = Field(default=9080, ge=1, le=65535)
    # Ed25519 PEM (PKCS#8) shared by every replica; previous keys still verify during rotation.
    signing_key_file: Path | None = None
    previous_signing_key_files: str = ""
    # Ed25519 PEM of deletion receipts: a key of their own, never the token key.
    receipt_key_file: Path | None = None
    previous_receipt_key_files: str = ""
    bootstrap_operator_handle: str | None = None
    bootstrap_operator_password: str | None = None
    trusted_proxies: str = ""
    max_body_bytes: int = Field(default=128 * 1024, ge=1024)
    # Encrypted attachments (docs/attachments.md): one upload, the bytes one account may keep
    # stored, and how long an upload waits for a message that references it.
    attachment_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    attachment_quota_bytes: int = Field(default=500 * 1024 * 1024, ge=1024)
    attachment_grace_seconds: float = Field(default=86400.0, gt=0)
    # The length of one retention "day" in seconds, as messaging reads it (the same variable,
    # HAVEN_RETENTION_DAY_SECONDS): sent attachments go when their message does. Tests and
    # development only; production keeps 86400.
    retention_day_seconds: float = Field(default=86400.0, gt=0, le=86400.0)
    access_token_seconds: int = Field(default=300, ge=30, le=300)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    # Devices unseen this long are signed out (fractions: tests); warned this long before; an
    # account's last active device only with device_expiry_last_device.
    device_expiry_days: float = Field(default=90, gt=0, le=3650)
    device_expiry_warning_days: float = Field(default=14, ge=0, le=3650)
    device_expiry_last_device: bool = False
    # A device link (a boxed secret for a new device) waits this long to be acknowledged.
    link_ttl_seconds: float = Field(default=600.0, gt=0, le=86400)
    # An operator's password reset code is good this long, once.
    reset_code_hours: float = Field(default=24.0, gt=0, le=24 * 14)
    invite_days: int = Field(default=7, ge=1, le=90)
    # Audit entries (metadata: types, ids, client addresses) are deleted after this (TTL).
    audit_retention_days: float = Field(default=365.0, gt=0, le=3650)
    # argon2id cost (libsodium's "interactive" by default) and how many hashes run at once.
    pwhash_opslimit: int = Field(default=2, ge=1, le=10)
    pwhash_memlimit_mib: int = Field(default=64, ge=8, le=1024)
    pwhash_workers: int = Field(default=2, ge=1, le=64)
    pwhash_queue: int = Field(default=64, ge=1, le=10000)
    # Token buckets, "<count>/<second|minute|hour|day>[,<burst>]" (model/rates.py). Shared by
    # every replica through MongoDB, except WebSocket frames (per socket, in memory).
    rate_send: str = "30/minute,10"  # per account: all its devices share one budget
    rate_invites: str = "20/hour,5"  # per account
    rate_kx: str = "12/hour,3"  # per device
    rate_device_ops: str = "30/hour,10"  # per account: revocations
    rate_register: str = "10/hour,5"  # per client address
    rate_pause: str = "12/day,4"  # per conversation: pause, resume and re-pause together
    rate_delete: str = "60/hour,20"  # per account: deletions for everyone
    rate_login_account: str = "20/hour,10"  # per account: successful logins
    rate_login_address: str = "60/hour,30"  # per client address (IPv6: per /64)
    rate_attachments: str = "30/hour,10"  # per account: uploads
    rate_ws_frames: str = "50/second,200"  # per socket (acks included: a burst of deliveries)
    rate_link: str = "10/hour,5"  # per account: secrets sent to its new devices
    rate_reset_code: str = "20/hour,5"  # per operator: password reset codes issued
    rate_reset_account: str = "10/hour,5"  # per handle (any): password reset attempts
    rate_reset_address: str = "20/hour,10"  # per client address (IPv6: per /64)
    # Sockets that have not authenticated yet, per client address and replica.
    ws_unauthenticated_per_address: int = Field(default=8, ge=1, le=10000)
    # Handle conflicts one unused invite may answer before it is burnt (stops enumeration).
    invite_conflicts: int = Field(default=3, ge=1, le=100)
    # A delivery a socket has not acked within this long counts as failed (notification).
    ack_deadline_seconds: float = Field(default=10.0, gt=0, le=300)
    # Login and password-change back-off past the free attempts: base * 2 ** (excess failures),
    # capped at 15 minutes.
    throttle_backoff_base_seconds: float = Field(default=1.0, gt=0, le=60)
    # Crisis resources until an operator sets them over the API (stores/crisis.py); without
    # either, client invites are refused. Read and checked before serving (app.py).
    crisis_resources_file: Path | None = None
    # Conversation retention in days: the default for a participant who has not chosen, and
    # the bounds of every choice. Unset default or maximum: keep messages until deleted.
    retention_default_days: int | None = Field(default=None, ge=1, le=36500)
    retention_min_days: int = Field(default=1, ge=1, le=36500)
    retention_max_days: int | None = Field(default=None, ge=1, le=36500)
    # Haven Web (edge/webapp.py): the built app served at /app/ (unset: clients/web/dist in the
    # checkout), the neutral page "Leave quickly" replaces it with, and the exact origins of
    # other web apps allowed to call the API from a browser (edge/cors.py; empty: none).
    web_dir: Path | None = None
    web_exit_url: str = "https://www.bbc.co.uk/weather"
    cors_origins: str = ""

    @field_validator(
        "retention_default_days",
        "retention_max_days",
        "crisis_resources_file",
        "web_dir",
        mode="before",
    )
    @classmethod
    def _blank_keeps(cls, value: object) -> object:
        """An empty value (compose passes unset variables as "") means unset."""
        return None if value == "" else value

    @model_validator(mode="after")
    def _retention_bounds(self) -> Self:
        top = self.retention_max_days
        if top is not None and top < self.retention_min_days:
            raise ValueError("HAVEN_RETENTION_MAX_DAYS is below HAVEN_RETENTION_MIN_DAYS")
        default = self.retention_default_days
        if default is not None and (
            default < self.retention_min_days or (top is not None and default > top)
        ):
            raise ValueError("HAVEN_RETENTION_DEFAULT_DAYS is outside the min/max bounds")
        return self

    @field_validator("web_exit_url")
    @classmethod
    def _exit_url(cls, value: str) -> str:
        parsed = urlsplit(value)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            raise ValueError("must be an absolute http(s) URL")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in filter(None, (p.strip() for p in value.split(","))):
            parsed = urlsplit(origin)
            exact = f"{parsed.scheme}://{parsed.netloc}"
            if parsed.scheme not in ("https", "http") or not parsed.netloc or origin != exact:
                raise ValueError(f"{origin!r} is not an exact origin like https://app.example")
        return value

    @property
    def allowed_origins(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.cors_origins.split(",") if p.strip())

    @field_validator("bootstrap_operator_password")
    @classmethod
    def _operator_password(cls, value: str | None) -> str | None:
        """Blank means unset: deploy.md asks operators to blank it after the first sign-in."""
        if not value:
            return None
        problem = password_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("signing_key_file", "receipt_key_file")
    @classmethod
    def _key_exists(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError("file does not exist")
        return path

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            ipaddress.ip_network(part, strict=False)
        return value

    @field_validator(
        "rate_send",
        "rate_invites",
        "rate_kx",
        "rate_device_ops",
        "rate_register",
        "rate_ws_frames",
        "rate_attachments",
        "rate_pause",
        "rate_delete",
        "rate_login_account",
        "rate_login_address",
        "rate_link",
        "rate_reset_code",
        "rate_reset_account",
        "rate_reset_address",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        Rate.parse(value)
        return value

    def rate(self, name: str) -> Rate:
        """The parsed rate of setting `rate_<name>`."""
        return Rate.parse(getattr(self, f"rate_{name}"))

    @property
    def trusted_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        parts = (p.strip() for p in self.trusted_proxies.split(","))
        return [ipaddress.ip_network(p, strict=False) for p in parts if p]
