"""Composition root of the messaging service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from pymongo.errors import PyMongoError

from services.messaging.consumers import start_consumers
from services.messaging.erasure import INDEXES as ERASURE_INDEXES
from services.messaging.metrics import EXPIRED
from services.messaging.repository import INDEXES
from services.messaging.retention import INDEXES as RETENTION_INDEXES
from services.messaging.retention import RetentionRepository, expiry_sweep_pause
from services.messaging.settings import MessagingSettings
from shared.events import utcnow
from shared.lifecycle import mongo_key, service_app
from shared.logging import configure_logging
from shared.mongo import merged_indexes
from shared.periodic import background, sweep_forever
from shared.runner import run
from shared.settings import load_settings

SERVICE = "messaging"


def create_app(settings: MessagingSettings) -> web.Application:
    indexes = merged_indexes(INDEXES, RETENTION_INDEXES, ERASURE_INDEXES)
    app = service_app(settings, SERVICE, indexes, start_consumers(settings), serve_metrics=True)
    app.cleanup_ctx.append(background("message-expiry", expire_messages(settings)))
    return app


def expire_messages(settings: MessagingSettings) -> Callable[[web.Application], Awaitable[None]]:
    """Delete messages past their retention, for the process's life (every replica sweeps:
    the deletions are idempotent, and each batch is small)."""

    async def run(app: web.Application) -> None:
        repository = RetentionRepository(
            db=app[mongo_key].db, day_seconds=settings.retention_day_seconds
        )

        async def sweep() -> dict[str, int]:
            count = await repository.delete_expired(utcnow())
            EXPIRED.inc(count)
            return {"count": count}

        await sweep_forever(
            sweep,
            done="messages_expired",
            failed="message_expiry_failed",
            errors=(PyMongoError,),
            pause=expiry_sweep_pause(settings.retention_day_seconds),
        )

    return run


def main() -> None:
    settings = load_settings(MessagingSettings)
    configure_logging(SERVICE, settings.log_level)
    run(
        [(create_app(settings), settings.host, settings.messaging_port)],
        settings.shutdown_grace_seconds,
    )
