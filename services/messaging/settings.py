"""Messaging's configuration: what it needs beyond the common settings."""

from __future__ import annotations

from pydantic import Field

from shared.settings import CommonSettings


class MessagingSettings(CommonSettings):
    """Messaging's health/metrics port."""

    messaging_port: int = Field(default=8081, ge=1, le=65535)
