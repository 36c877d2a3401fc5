"""Composition root of the gateway: the public API app and the internal ops app."""

from __future__ import annotations

from aiohttp import web

from services.gateway.ops import create_ops_app
from services.gateway.problems import problem_middleware
from services.gateway.repository import INDEXES
from shared.lifecycle import service_app
from shared.logging import configure_logging
from shared.runner import run
from shared.settings import GatewaySettings, load_settings

SERVICE = "gateway"


def create_app(settings: GatewaySettings) -> web.Application:
    return service_app(
        settings,
        SERVICE,
        INDEXES,
        serve_metrics=False,
        middlewares=(problem_middleware,),
        client_max_size=settings.max_body_bytes,
    )


def main() -> None:
    settings = load_settings(GatewaySettings)
    configure_logging(SERVICE, settings.log_level)
    app = create_app(settings)
    run(
        [
            (app, settings.host, settings.gateway_port),
            (create_ops_app(app), settings.host, settings.gateway_ops_port),
        ],
        settings.shutdown_grace_seconds,
    )
