"""Messaging's configuration: what it needs beyond the common settings."""

from __future__ import annotations

from pydantic import Field

from shared.settings import CommonSettings


class MessagingSettings(CommonSettings):
    """Messaging's health/metrics port."""

    messaging_port: int = Field(default=8081, ge=1, le=65535)
    # The length of one retention "day" in seconds. Tests and development only: a shorter day
    # makes a retention of 1 day pass in seconds. Production keeps 86400.
    retention_day_seconds: float = Field(default=86400.0, gt=0, le=86400.0)
