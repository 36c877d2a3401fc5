"""Composition root of the messaging service."""

from __future__ import annotations

from aiohttp import web

from services.messaging.consumers import start_consumers
from services.messaging.erasure import INDEXES as ERASURE_INDEXES
from services.messaging.repository import INDEXES
from services.messaging.retention import INDEXES as RETENTION_INDEXES
from services.messaging.settings import MessagingSettings
from shared.lifecycle import service_app
from shared.logging import configure_logging
from shared.mongo import merged_indexes
from shared.runner import run
from shared.settings import load_settings

SERVICE = "messaging"


def create_app(settings: MessagingSettings) -> web.Application:
    indexes = merged_indexes(INDEXES, RETENTION_INDEXES, ERASURE_INDEXES)
    return service_app(settings, SERVICE, indexes, start_consumers(settings), serve_metrics=True)


def main() -> None:
    settings = load_settings(MessagingSettings)
    configure_logging(SERVICE, settings.log_level)
    run(
        [(create_app(settings), settings.host, settings.messaging_port)],
        settings.shutdown_grace_seconds,
    )
