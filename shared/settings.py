"""Service configuration: read once from HAVEN_* environment variables into frozen objects."""

from __future__ import annotations

import ipaddress
import re
import sys
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import unquote

from pydantic import AnyUrl, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.rates import Rate

LogLevel = Literal["debug", "info", "warning", "error"]
# The sample configuration's placeholders (.env.example): "change-me", "changeme", any case.
PLACEHOLDER = re.compile(r"change[-_]?me", re.IGNORECASE)
SECRET_LENGTH = range(10, 257)


def placeholder_problem(secret: str) -> str | None:
    """Why a secret is still the sample value, or None. Never mentions the value itself."""
    if PLACEHOLDER.search(secret):
        return "still holds a change-me placeholder; set a real secret"
    return None


def password_problem(password: str) -> str | None:
    """Why an operator password must not be used (placeholder, 10-256 characters), or None."""
    if len(password) not in SECRET_LENGTH:
        return "must be 10-256 characters"
    return placeholder_problem(password)


def _refuse_placeholder_password(url: AnyUrl) -> None:
    """Connection URLs carry the broker's and database's passwords."""
    problem = placeholder_problem(unquote(url.password or ""))
    if problem:
        raise ValueError(f"the password {problem}")


class CommonSettings(BaseSettings):
    """What every service needs: where the broker and the store are, and how to log."""

    model_config = SettingsConfigDict(env_prefix="HAVEN_", frozen=True, extra="ignore")

    amqp_url: AnyUrl = Field(default=AnyUrl("amqp://guest:guest@127.0.0.1:5672/"))
    mongo_url: AnyUrl = Field(default=AnyUrl("mongodb://127.0.0.1:27017"))
    log_level: LogLevel = "info"
    host: str = "127.0.0.1"
    # Prepended to every exchange and queue name; empty in production, unique per test.
    namespace: str = Field(default="", pattern=r"^[a-z0-9_]*\.?$")
    command_shards: int = Field(default=8, ge=1, le=256)
    # Database name prefix: the service's database is f"{db_prefix}_{service}".
    db_prefix: str = Field(default="haven", pattern=r"^[A-Za-z0-9_]{1,40}$")
    shutdown_grace_seconds: float = Field(default=10.0, gt=0, le=300)

    @field_validator("amqp_url")
    @classmethod
    def _amqp_scheme(cls, url: AnyUrl) -> AnyUrl:
        if url.scheme not in {"amqp", "amqps"}:
            raise ValueError("must be an amqp:// or amqps:// URL")
        _refuse_placeholder_password(url)
        return url

    @field_validator("mongo_url")
    @classmethod
    def _mongo_scheme(cls, url: AnyUrl) -> AnyUrl:
        if url.scheme not in {"mongodb", "mongodb+srv"}:
            raise ValueError("must be a mongodb:// or mongodb+srv:// URL")
        _refuse_placeholder_password(url)
        return url

    def database_name(self, service: str) -> str:
        return f"{self.db_prefix}_{service}"


class GatewaySettings(CommonSettings):
    gateway_port: int = Field(default=8080, ge=1, le=65535)
    gateway_ops_port: int = Field(default=9080, ge=1, le=65535)
    # Ed25519 PEM (PKCS#8) shared by every replica; previous keys still verify during rotation.
    signing_key_file: Path | None = None
    previous_signing_key_files: str = ""
    bootstrap_operator_handle: str | None = None
    bootstrap_operator_password: str | None = None
    trusted_proxies: str = ""
    max_body_bytes: int = Field(default=128 * 1024, ge=1024)
    access_token_seconds: int = Field(default=300, ge=30, le=300)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    device_expiry_days: int = Field(default=90, ge=1, le=3650)
    invite_days: int = Field(default=7, ge=1, le=90)
    # argon2id cost (libsodium's "interactive" by default) and how many hashes run at once.
    pwhash_opslimit: int = Field(default=2, ge=1, le=10)
    pwhash_memlimit_mib: int = Field(default=64, ge=8, le=1024)
    pwhash_workers: int = Field(default=2, ge=1, le=64)
    pwhash_queue: int = Field(default=64, ge=1, le=10000)
    # Token buckets, "<count>/<second|minute|hour|day>[,<burst>]" (shared/rates.py). Shared by
    # every replica through MongoDB, except WebSocket frames (per socket, in memory).
    rate_send: str = "30/minute,10"  # per account: all its devices share one budget
    rate_invites: str = "20/hour,5"  # per account
    rate_kx: str = "12/hour,3"  # per device
    rate_device_ops: str = "30/hour,10"  # per account: revocations
    rate_register: str = "10/hour,5"  # per client address
    rate_ws_frames: str = "50/second,200"  # per socket (acks included: a burst of deliveries)
    # Sockets that have not authenticated yet, per client address and replica.
    ws_unauthenticated_per_address: int = Field(default=8, ge=1, le=10000)
    # Handle conflicts one unused invite may answer before it is burnt (stops enumeration).
    invite_conflicts: int = Field(default=3, ge=1, le=100)

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

    @field_validator("signing_key_file")
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
        "rate_send", "rate_invites", "rate_kx", "rate_device_ops", "rate_register", "rate_ws_frames"
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


class MessagingSettings(CommonSettings):
    messaging_port: int = Field(default=8081, ge=1, le=65535)


class NotificationSettings(CommonSettings):
    notification_port: int = Field(default=8082, ge=1, le=65535)
    # Device changes of one account within this window are announced at once and once more
    # when it ends (API.md: several changes within a few seconds may be announced once).
    devices_changed_window_seconds: float = Field(default=2.0, ge=0, le=60)


S = TypeVar("S", bound=CommonSettings)


def describe_error(error: ValidationError) -> str:
    """One line naming the environment variable and what is wrong with it."""
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "?"
    return f"HAVEN_{field.upper()}: {first['msg']}"  # never the value: URLs carry passwords


def load_settings(kind: type[S]) -> S:
    """Read settings or stop the process with a one-line explanation."""
    try:
        return kind()
    except ValidationError as error:
        sys.stderr.write(f"configuration error: {describe_error(error)}\n")
        raise SystemExit(2) from None
