"""The fake gateway's application: middleware, route table, and a runner on 127.0.0.1."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.sdk_fakes.hub import Hub
from tests.sdk_fakes.identity_routes import IdentityRoutes
from tests.sdk_fakes.message_routes import MessageRoutes
from tests.sdk_fakes.notify_routes import NotifyRoutes
from tests.sdk_fakes.state import FakeState, ProblemError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
hub_key = web.AppKey("hub", Hub)


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ProblemError as problem:
        body = {
            "type": "about:blank",
            "title": problem.code,
            "status": problem.status,
            "detail": problem.detail,
            "code": problem.code,
            **problem.extra,
        }
        return web.json_response(
            body, status=problem.status, content_type="application/problem+json"
        )


class Routes(IdentityRoutes, MessageRoutes, NotifyRoutes):
    """Every route of the fake; the halves live in their own modules."""

    def __init__(self, state: FakeState, hub: Hub) -> None:
        super().__init__(state, hub)
        hub.send_handler = self.accept_message


def create_fake_app(state: FakeState) -> web.Application:
    app = web.Application(middlewares=[problems])
    hub = Hub(state)
    app[hub_key] = hub
    r = Routes(state, hub)
    app.router.add_post("/v1/accounts", r.register)
    app.router.add_post("/v1/sessions", r.login)
    app.router.add_post("/v1/sessions/refresh", r.refresh)
    app.router.add_delete("/v1/sessions/current", r.logout)
    app.router.add_get("/v1/me", r.me)
    app.router.add_get("/v1/accounts/{account_id}/devices", r.account_devices)
    app.router.add_get("/v1/devices/{device_id}", r.device)
    app.router.add_delete("/v1/devices/{device_id}", r.revoke_device)
    app.router.add_put("/v1/devices/{device_id}/kx", r.rotate_kx)
    app.router.add_post("/v1/invites", r.create_invite)
    app.router.add_post("/v1/invites/accept", r.accept_invite)
    app.router.add_get("/v1/conversations", r.conversations)
    app.router.add_post("/v1/conversations/{conversation_id}/messages", r.post_message)
    app.router.add_get("/v1/conversations/{conversation_id}/messages", r.history)
    app.router.add_delete(
        "/v1/conversations/{conversation_id}/messages/{message_id}", r.delete_message
    )
    app.router.add_post("/v1/conversations/{conversation_id}/read", r.mark_read)
    app.router.add_get("/v1/crisis-resources", r.crisis)
    app.router.add_put("/v1/devices/{device_id}/push", r.put_push)
    app.router.add_get("/v1/devices/{device_id}/push", r.get_push)
    app.router.add_delete("/v1/devices/{device_id}/push", r.delete_push)
    app.router.add_get("/v1/me/notification-settings", r.get_settings)
    app.router.add_put("/v1/me/notification-settings", r.put_settings)
    app.router.add_put("/v1/me/availability", r.put_availability)
    app.router.add_get("/v1/accounts/{account_id}/availability", r.get_availability)
    app.router.add_get("/v1/ws", hub.handle)
    return app


class FakeHaven:
    """A running fake on 127.0.0.1: ``url``, its ``state`` and ``hub`` for knobs and asserts."""

    def __init__(
        self, server: TestServer, state: FakeState, hub: Hub, routes_app: web.Application
    ) -> None:
        self.server = server
        self.state = state
        self.hub = hub
        self.app = routes_app

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, state: FakeState | None = None) -> AsyncIterator[FakeHaven]:
        state = state or FakeState()
        app = create_fake_app(state)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            yield cls(server, state, app[hub_key], app)
        finally:
            await app[hub_key].drop_all(1001)
            await server.close()

    def bootstrap_operator(
        self, handle: str = "operator", password: str = "operator-password"
    ) -> str:
        account = self.state.add_account(handle, password, "operator", "Operator")
        return account.account_id

    async def coach_away(self, conversation_id: str, **fields: Any) -> None:
        """Send a ``coach_away`` frame to the conversation's client, as the notification
        service does when the client's message reaches the coach outside hours."""
        conversation = self.state.conversations[conversation_id]
        frame = {"type": "coach_away", "conversation_id": conversation_id, **fields}
        await self.hub.push_account(conversation.client_id, frame)

    def invite(self, kind: str, creator_account_id: str) -> str:
        code = secrets.token_urlsafe(16)
        self.state.invites[code] = (kind, creator_account_id)
        return code
