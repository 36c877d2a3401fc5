"""Notification's configuration: what it needs beyond the common settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from services.notification.push.sealing import read_key_file
from services.notification.push.urlguard import parse_allowlist
from services.notification.push.webpush import check_subject
from services.notification.push.webpush import read_key_file as read_vapid_key_file
from shared.settings import CommonSettings

# The browsers' push services (Chrome, Firefox, Safari, Edge).
WEBPUSH_HOSTS = (
    "fcm.googleapis.com,updates.push.services.mozilla.com,*.push.apple.com,*.notify.windows.com"
)


class NotificationSettings(CommonSettings):
    """Notification's health/metrics port and the devices_changed debounce window."""

    notification_port: int = Field(default=8082, ge=1, le=65535)
    # Device changes of one account within this window are announced at once and once more
    # when it ends (API.md: several changes within a few seconds may be announced once).
    devices_changed_window_seconds: float = Field(default=2.0, ge=0, le=60)

    # --- push (API.md "Push", "Quiet hours"; services/notification/push/) ---
    # Push gateway hosts the operator allows, comma-separated: exact names or `*.suffix`
    # (any name under suffix). Empty: every push URL is refused.
    push_allowed_hosts: str = ""
    # Web Push endpoints the operator allows (same syntax): the browsers' push services.
    push_webpush_allowed_hosts: str = WEBPUSH_HOSTS
    # The VAPID private key (P-256 PEM; a compose secret made by `python -m
    # services.deploy_secrets`). Unset: a temporary key, with a warning (development only).
    vapid_key_file: Path | None = None
    # The operator's contact the push services see in every VAPID token: mailto: or https:.
    # Unset: Web Push subscriptions are refused.
    vapid_subject: str | None = None
    # How long a push service keeps an undelivered Web Push (RFC 8030 `TTL`), in seconds.
    push_webpush_ttl_seconds: int = Field(default=86_400, ge=0, le=2_419_200)
    # Development only: admit http://127.0.0.1 receivers and loopback addresses (warned at start).
    push_insecure_allow_loopback: bool = False
    # The key push secrets are encrypted with (base64 of 32 random bytes; a compose secret,
    # `python -m services.notification.push.sealing generate`). Unset: an ephemeral key, with a
    # warning: stored secrets become unreadable on a restart and on other replicas.
    push_secret_key_file: Path | None = None
    # Retry back-off in seconds, comma-separated, one RabbitMQ delay queue each; a push still
    # failing after the last is dead-lettered with its reason.
    push_retry_delays: str = "10,30,120,300,900"
    # Pushes for one (device, conversation) within this window go out as one (unread count).
    push_collapse_seconds: float = Field(default=30.0, ge=0, le=3600)
    push_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Pushes in flight per replica (the work queue's prefetch and the HTTP client's limit).
    push_concurrency: int = Field(default=16, ge=1, le=1000)
    # How often each replica looks for due pushes, and how long a claim on one holds.
    push_sweep_seconds: float = Field(default=1.0, gt=0, le=60)
    push_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Pending notifications nobody pushed (no subscription, never due) are dropped after this.
    pending_retention_days: float = Field(default=7.0, gt=0, le=365)

    @field_validator("vapid_subject", mode="before")
    @classmethod
    def _subject(cls, value: object) -> object:
        """Empty (compose passes an unset variable so) is unset; else mailto: or https:."""
        if value is None or value == "":
            return None
        return check_subject(str(value))

    @field_validator("vapid_key_file")
    @classmethod
    def _vapid_key(cls, path: Path | None) -> Path | None:
        if path is not None:
            read_vapid_key_file(path)
        return path

    @field_validator("push_allowed_hosts", "push_webpush_allowed_hosts")
    @classmethod
    def _allowlist(cls, value: str) -> str:
        parse_allowlist(value)
        return value

    @field_validator("push_secret_key_file")
    @classmethod
    def _key_file(cls, path: Path | None) -> Path | None:
        if path is not None:
            read_key_file(path)
        return path

    @field_validator("push_retry_delays")
    @classmethod
    def _delays(cls, value: str) -> str:
        parse_delays(value)
        return value

    @property
    def push_retry_delays_ms(self) -> tuple[int, ...]:
        return parse_delays(self.push_retry_delays)


def parse_delays(value: str) -> tuple[int, ...]:
    """Seconds such as `10,30,120` (fractions allowed) -> milliseconds, 1 ms to 1 day each."""
    try:
        delays = tuple(round(float(part) * 1000) for part in value.split(",") if part.strip())
    except ValueError:
        raise ValueError("comma-separated seconds, e.g. 10,30,120") from None
    if not delays or len(delays) > 20 or any(not 1 <= d <= 86_400_000 for d in delays):
        raise ValueError("1 to 20 delays, each between 0.001 and 86400 seconds")
    return delays
