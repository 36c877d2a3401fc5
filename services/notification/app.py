"""Composition root of the notification service."""

from __future__ import annotations

from aiohttp import web

from services.notification.consumers import start_consumers
from services.notification.repository import INDEXES
from shared.lifecycle import service_app
from shared.logging import configure_logging
from shared.runner import run
from shared.settings import NotificationSettings, load_settings

SERVICE = "notification"


def create_app(settings: NotificationSettings) -> web.Application:
    return service_app(settings, SERVICE, INDEXES, start_consumers(settings), serve_metrics=True)


def main() -> None:
    settings = load_settings(NotificationSettings)
    configure_logging(SERVICE, settings.log_level)
    run(
        [(create_app(settings), settings.host, settings.notification_port)],
        settings.shutdown_grace_seconds,
    )
