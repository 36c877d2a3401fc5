"""Fake gateway routes for push gateways, notification settings and coach availability, and
the `coach_away` frame a client's message gets while its coach is not available.

Bodies are checked with the real contracts (`shared.notify_contracts`,
`shared.availability_contracts`) so a request the gateway would refuse is refused here too;
`available_now` / `next_available_at` come from a knob (`FakeState.availability_status`)
instead of a schedule, so tests say exactly what the server answers.
"""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ValidationError

from shared.availability_contracts import Availability
from shared.notify_contracts import SECRET_LENGTH, NotificationPreferences
from shared.wire import iso_utc
from tests.sdk_fakes.routes_base import RoutesBase
from tests.sdk_fakes.state import Conversation, ProblemError, Token

M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        names = ", ".join(sorted({e["field"] for e in errors}))
        raise ProblemError(
            422, "invalid_request", f"invalid fields: {names}", errors=errors
        ) from None


class NotifyRoutes(RoutesBase):
    # --- push gateways -----------------------------------------------------------------------

    def _own_device(self, request: web.Request) -> tuple[Token, str]:
        token = self.auth(request)
        device = self.s.devices.get(request.match_info["device_id"])
        if device is None or device.account_id != token.account_id or device.revoked_at:
            raise ProblemError(404, "not_found", "no such device")
        return token, device.device_id

    async def put_push(self, request: web.Request) -> web.Response:
        _, device_id = self._own_device(request)
        data = await self.body(request)
        self.s.notify_requests.append(("PUT", request.path, data))
        url, secret = data.get("url"), data.get("secret")
        low, high = SECRET_LENGTH
        if not isinstance(secret, str) or not low <= len(secret) <= high:
            raise ProblemError(422, "invalid_request", "invalid fields: secret")
        host = urlsplit(url).hostname if isinstance(url, str) else None
        allowed = self.s.push_allowed_hosts
        if host is None or (allowed is not None and host not in allowed):
            raise ProblemError(
                422,
                "invalid_request",
                "invalid fields: url; not an allowed push host",
                errors=[{"field": "url", "message": "not an allowed push host"}],
            )
        self.s.push_subscriptions[device_id] = (str(url), secret)
        return web.json_response({"set": True, "host": host})

    async def get_push(self, request: web.Request) -> web.Response:
        _, device_id = self._own_device(request)
        subscription = self.s.push_subscriptions.get(device_id)
        if subscription is None:
            return web.json_response({"set": False})
        return web.json_response({"set": True, "host": urlsplit(subscription[0]).hostname})

    async def delete_push(self, request: web.Request) -> web.Response:
        _, device_id = self._own_device(request)
        self.s.notify_requests.append(("DELETE", request.path, None))
        self.s.push_subscriptions.pop(device_id, None)
        return web.Response(status=204)

    # --- notification settings ---------------------------------------------------------------

    async def get_settings(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        default = NotificationPreferences(time_zone="UTC").body()
        return web.json_response(self.s.notification_settings.get(token.account_id, default))

    async def put_settings(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        data = await self.body(request)
        self.s.notify_requests.append(("PUT", request.path, data))
        settings = _validated(NotificationPreferences, data)
        if settings.urgent_bypass and self.s.accounts[token.account_id].role != "coach":
            raise ProblemError(
                422,
                "invalid_request",
                "urgent_bypass is for coaches",
                errors=[{"field": "urgent_bypass", "message": "urgent_bypass is for coaches"}],
            )
        self.s.notification_settings[token.account_id] = settings.body()
        return web.json_response(settings.body())

    # --- coach availability ------------------------------------------------------------------

    async def put_availability(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        data = await self.body(request)
        self.s.notify_requests.append(("PUT", request.path, data))
        if self.s.accounts[token.account_id].role != "coach":
            raise ProblemError(403, "forbidden", "availability is a coach's to set")
        availability = _validated(Availability, data)
        self.s.availability[token.account_id] = availability
        return web.json_response(self._availability_body(token.account_id))

    async def get_availability(self, request: web.Request) -> web.Response:
        token = self.auth(request)
        account_id = request.match_info["account_id"]
        if account_id not in self.s.accounts or not self.s.related(token.account_id, account_id):
            raise ProblemError(404, "not_found", "no such account")
        return web.json_response(self._availability_body(account_id))

    def _availability_body(self, account_id: str) -> dict[str, Any]:
        stored = self.s.availability.get(account_id)
        fields = (
            stored.model_dump(mode="json")
            if stored is not None
            else dict.fromkeys(Availability.model_fields)
        )
        available, at = self.s.availability_status.get(account_id, (True, self.s.clock()))
        return fields | {
            "available_now": available,
            "next_available_at": None if at is None else iso_utc(at),
        }

    # --- coach_away --------------------------------------------------------------------------

    async def after_message(self, conversation: Conversation, sender_account_id: str) -> None:
        """A client's message while its coach is not available: one `coach_away` per stretch
        (`FakeState.away_noticed` forgets a conversation to start a new stretch)."""
        coach_id = conversation.coach_id
        stored = self.s.availability.get(coach_id)
        available, at = self.s.availability_status.get(coach_id, (True, self.s.clock()))
        if sender_account_id == coach_id or stored is None or available:
            return
        if conversation.conversation_id in self.s.away_noticed:
            return
        self.s.away_noticed.add(conversation.conversation_id)
        away = stored.away
        during = away is not None and away.from_ <= self.s.clock() < away.until
        frame: dict[str, Any] = {
            "type": "coach_away",
            "conversation_id": conversation.conversation_id,
            "away_message": away.message if during and away else stored.away_message,
            "response_time_hours": stored.response_time_hours,
            "next_available_at": None if at is None else iso_utc(at),
        }
        if during and away is not None and away.backup_contact is not None:
            frame["backup_contact"] = away.backup_contact
        await self.hub.push_account(sender_account_id, frame)
