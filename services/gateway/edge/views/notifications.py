"""Views: push subscriptions, notification settings, coach availability."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field

from services.gateway.edge.http import caller, endpoint, no_content, parse
from services.gateway.edge.keys import notifications_key
from services.gateway.model.schemas import Request
from shared.availability_contracts import Availability
from shared.notify_contracts import MAX_URL_LENGTH, SECRET_LENGTH, NotificationPreferences


class PushSubscription(Request):
    url: Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]
    secret: Annotated[str, Field(min_length=SECRET_LENGTH[0], max_length=SECRET_LENGTH[1])]


@endpoint(
    "PUT",
    "/v1/devices/{device_id}/push",
    "Register this device's push gateway (an https URL on the operator's allowlist)",
    body=PushSubscription,
    tag="notifications",
)
async def put_push(request: web.Request) -> web.Response:
    body = await parse(request, PushSubscription)
    answer = await request.app[notifications_key].set_push(
        caller(request), request.match_info["device_id"], body.url, body.secret
    )
    return web.json_response(answer)


@endpoint(
    "GET",
    "/v1/devices/{device_id}/push",
    "Whether a push gateway is set (never the secret)",
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
