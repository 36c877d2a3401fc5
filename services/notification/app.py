"""Composition root of the notification service."""

from __future__ import annotations

from aiohttp import web

from services.notification.consumers import background_ctx, background_key, start_consumers
from services.notification.repository import INDEXES
from shared.lifecycle import service_app
from shared.logging import configure_logging
from shared.runner import run
from shared.settings import NotificationSettings, load_settings

SERVICE = "notification"


def create_app(settings: NotificationSettings) -> web.Application:
    app = service_app(settings, SERVICE, INDEXES, start_consumers(settings), serve_metrics=True)
    app[background_key] = []
    app.cleanup_ctx.append(background_ctx)
    return app


def main() -> None:
    settings = load_settings(NotificationSettings)
    configure_logging(SERVICE, settings.log_level)
    run(
        [(create_app(settings), settings.host, settings.notification_port)],
        settings.shutdown_grace_seconds,
    )
