"""Composition root of the notification service."""

from __future__ import annotations

from aiohttp import web

from services.notification.availability.repository import INDEXES as AVAILABILITY_INDEXES
from services.notification.consumers import background_ctx, background_key, start_consumers
from services.notification.push.engine import Clock
from services.notification.push.outbox import INDEXES as OUTBOX_INDEXES
from services.notification.push.repository import INDEXES as PUSH_INDEXES
from services.notification.push.wiring import deferrals_key, push_ctx
from services.notification.repository import INDEXES, PENDING
from services.notification.settings import NotificationSettings
from shared.events import utcnow
from shared.lifecycle import service_app
from shared.logging import configure_logging
from shared.mongo import merged_indexes
from shared.runner import run
from shared.settings import load_settings

SERVICE = "notification"


def create_app(settings: NotificationSettings, *, clock: Clock = utcnow) -> web.Application:
    """`clock`: what the push engine, push delivery and availability read as "now" (the
    wall clock; a test runs replicas on a shifted one)."""
    indexes = merged_indexes(INDEXES, AVAILABILITY_INDEXES, PUSH_INDEXES, OUTBOX_INDEXES)
    # Pending notifications nobody pushed expire (the upkeep loop also sweeps them).
    ttls = {PENDING: ("created_at", settings.pending_retention_days * 86400)}
    app = service_app(
        settings,
        SERVICE,
        indexes,
        start_consumers(settings, clock=clock),
        serve_metrics=True,
        ttls=ttls,
    )
    app[background_key] = []
    app[deferrals_key] = {}  # push deferral policies by name (services/notification/push/)
    app.cleanup_ctx.append(background_ctx)
    # First in, last out: the push HTTP client outlives the bus's drain of in-flight jobs.
    app.cleanup_ctx.insert(0, push_ctx(settings))
    return app


def main() -> None:
    settings = load_settings(NotificationSettings)
    configure_logging(SERVICE, settings.log_level)
    run(
        [(create_app(settings), settings.host, settings.notification_port)],
        settings.shutdown_grace_seconds,
    )
