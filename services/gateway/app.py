"""The gateway's public API app and its internal ops app; wiring.py builds what they serve."""

from __future__ import annotations

import sys
from typing import Any

from aiohttp import web

from services.gateway.edge import views  # noqa: F401 - registers the endpoints
from services.gateway.edge.caching import install_no_store
from services.gateway.edge.cors import cors_middleware
from services.gateway.edge.http import ENDPOINTS
from services.gateway.edge.keys import receipt_signer_key
from services.gateway.edge.middlewares import auth_middleware
from services.gateway.edge.ops import create_ops_app
from services.gateway.edge.problems import problem_middleware
from services.gateway.edge.urgent import urgent_send_middleware
from services.gateway.edge.webapp import install_webapp
from services.gateway.edge.websocket import websocket
from services.gateway.security.receipt_keys import ReceiptSigner
from services.gateway.security.tokens import TokenSigner
from services.gateway.settings import GatewaySettings
from services.gateway.stores import INDEXES
from services.gateway.stores.crisis import load_resources_file
from services.gateway.stores.relationships import RelationshipRepository
from services.gateway.wiring import install
from shared.lifecycle import mongo_key, service_app
from shared.logging import configure_logging
from shared.runner import run
from shared.settings import load_settings

SERVICE = "gateway"


def load_signer(settings: GatewaySettings) -> TokenSigner:
    """Read the signing keys before serving; a bad key file stops start-up with one line."""
    try:
        return TokenSigner.from_settings(settings)
    except (OSError, ValueError, TypeError) as error:
        sys.stderr.write(f"configuration error: HAVEN_SIGNING_KEY_FILE: {error}\n")
        raise SystemExit(2) from None


def load_receipt_signer(settings: GatewaySettings) -> ReceiptSigner:
    """The receipt keys, read before serving like the token keys."""
    try:
        return ReceiptSigner.from_settings(settings)
    except (OSError, ValueError, TypeError) as error:
        sys.stderr.write(f"configuration error: HAVEN_RECEIPT_KEY_FILE: {error}\n")
        raise SystemExit(2) from None


def load_crisis_resources(settings: GatewaySettings) -> list[dict[str, Any]]:
    """Read the operator's crisis resources file before serving; a bad one stops start-up."""
    if settings.crisis_resources_file is None:
        return []
    try:
        return load_resources_file(settings.crisis_resources_file)
    except ValueError as error:
        sys.stderr.write(f"configuration error: HAVEN_CRISIS_RESOURCES_FILE {error}\n")
        raise SystemExit(2) from None


async def migrate(app: web.Application) -> None:
    """Data migrations after the indexes exist and before the gateway is ready."""
    await RelationshipRepository(app[mongo_key].db).migrate()


def create_app(settings: GatewaySettings, signer: TokenSigner | None = None) -> web.Application:
    app = service_app(
        settings,
        SERVICE,
        INDEXES,
        migrate,
        serve_metrics=False,
        middlewares=(
            *((cors_middleware(settings.allowed_origins),) if settings.allowed_origins else ()),
            urgent_send_middleware,
            problem_middleware,
            auth_middleware,
        ),
        client_max_size=settings.max_body_bytes,
        ttls={"audit": ("at", settings.audit_retention_days * 86400)},
    )
    app[receipt_signer_key] = load_receipt_signer(settings)
    install(app, settings, signer or load_signer(settings), load_crisis_resources(settings))
    for e in ENDPOINTS:
        app.router.add_route(e.method, e.path, e.view)
    app.router.add_get("/v1/ws", websocket)
    install_webapp(app, settings)
    install_no_store(app)
    return app


def main() -> None:
    settings = load_settings(GatewaySettings)
    configure_logging(SERVICE, settings.log_level)
    app = create_app(settings, load_signer(settings))
    run(
        [
            (app, settings.host, settings.gateway_port),
            (create_ops_app(app), settings.host, settings.gateway_ops_port),
        ],
        settings.shutdown_grace_seconds,
    )
