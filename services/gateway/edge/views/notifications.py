"""Views: push subscriptions, notification settings, coach availability."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from aiohttp import web
from pydantic import Field, model_validator

from services.gateway.edge.http import caller, endpoint, no_content, parse
from services.gateway.edge.keys import notifications_key
from services.gateway.model.schemas import Request
from shared.availability_contracts import Availability
from shared.notify_contracts import (
    MAX_URL_LENGTH,
    SECRET_LENGTH,
    WEBPUSH_KEY_LENGTH,
    NotificationPreferences,
    PushKind,
    VapidReply,
)

Url = Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]
WebPushKey = Annotated[
    str, Field(min_length=WEBPUSH_KEY_LENGTH[0], max_length=WEBPUSH_KEY_LENGTH[1])
]


class WebPushKeys(Request):
    p256dh: WebPushKey
    auth: WebPushKey


class PushSubscription(Request):
    """A webhook (`url`, `secret`; `kind` absent or "webhook") or a browser's Web Push
    subscription as `PushSubscription.toJSON()` gives it, plus `"kind": "webpush"`."""

    kind: PushKind | None = None
    url: Url | None = None
    secret: (
        Annotated[str, Field(min_length=SECRET_LENGTH[0], max_length=SECRET_LENGTH[1])] | None
    ) = None
    endpoint: Url | None = None
    keys: WebPushKeys | None = None
    expirationTime: float | None = None  # the browser's own field name (toJSON)

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Self:
        if self.kind == "webpush":
            if self.endpoint is None or self.keys is None:
                raise ValueError("a Web Push subscription needs endpoint and keys")
            if self.url is not None or self.secret is not None:
                raise ValueError("a Web Push subscription has no url or secret")
        elif self.url is None or self.secret is None:
            raise ValueError("a webhook needs url and secret")
        elif self.endpoint is not None or self.keys is not None:
            raise ValueError("a webhook has no endpoint or keys")
        return self

    @property
    def target(self) -> tuple[Literal["webhook", "webpush"], str]:
        if self.kind == "webpush":
            return "webpush", self.endpoint or ""
        return "webhook", self.url or ""


@endpoint(
    "PUT",
    "/v1/devices/{device_id}/push",
    "Register this device's push gateway (an https URL on the operator's allowlist) or its "
    "browser's Web Push subscription (kind webpush)",
    body=PushSubscription,
    tag="notifications",
)
async def put_push(request: web.Request) -> web.Response:
    body = await parse(request, PushSubscription)
    kind, url = body.target
    answer = await request.app[notifications_key].set_push(
        caller(request),
        request.match_info["device_id"],
        kind,
        url,
        secret=body.secret,
        keys=(body.keys.p256dh, body.keys.auth) if body.keys else None,
    )
    return web.json_response(answer)


@endpoint(
    "GET",
    "/v1/push/vapid",
    "The application server key (VAPID) browsers subscribe to Web Push with",
    auth=False,
    response=VapidReply,
    tag="notifications",
)
async def get_vapid(request: web.Request) -> web.Response:
    return web.json_response(await request.app[notifications_key].vapid())


@endpoint(
    "GET",
    "/v1/devices/{device_id}/push",
    "Whether a push gateway is set, its kind and host (never the secret or keys)",
    tag="notifications",
)
async def get_push(request: web.Request) -> web.Response:
    answer = await request.app[notifications_key].push(
        caller(request), request.match_info["device_id"]
    )
    return web.json_response(answer)


@endpoint(
    "DELETE",
    "/v1/devices/{device_id}/push",
    "Remove this device's push gateway",
    status=204,
    tag="notifications",
)
async def delete_push(request: web.Request) -> web.Response:
    await request.app[notifications_key].remove_push(
        caller(request), request.match_info["device_id"]
    )
    return no_content()


@endpoint(
    "GET",
    "/v1/me/notification-settings",
    "Time zone, quiet hours, urgent bypass",
    response=NotificationPreferences,
    tag="notifications",
)
async def get_settings(request: web.Request) -> web.Response:
    return web.json_response(await request.app[notifications_key].settings(caller(request)))


@endpoint(
    "PUT",
    "/v1/me/notification-settings",
    "Set time zone, quiet hours (pushes wait until they end) and, for coaches, urgent bypass",
    body=NotificationPreferences,
    response=NotificationPreferences,
    tag="notifications",
)
async def put_settings(request: web.Request) -> web.Response:
    body = await parse(request, NotificationPreferences)
    answer = await request.app[notifications_key].set_settings(caller(request), body)
    return web.json_response(answer)


@endpoint(
    "PUT",
    "/v1/me/availability",
    "A coach's weekly hours, response time, away message and away period",
    body=Availability,
    tag="notifications",
)
async def put_availability(request: web.Request) -> web.Response:
    body = await parse(request, Availability)
    answer = await request.app[notifications_key].set_availability(caller(request), body)
    return web.json_response(answer)


@endpoint(
    "GET",
    "/v1/accounts/{account_id}/availability",
    "A coach's availability, with available_now and next_available_at",
    tag="notifications",
)
async def get_availability(request: web.Request) -> web.Response:
    answer = await request.app[notifications_key].availability(
        caller(request), request.match_info["account_id"]
    )
    return web.json_response(answer)
