"""Push subscriptions, notification settings and per-conversation detail, answered by
notification over `haven.rpc`: routes, requests, replies and error codes.

The gateway calls `RpcClient.call(PUSH_PUT, PushSubscriptionPut(...))` and renders
`reply.body()`; notification serves every route. Errors it answers with:
- `invalid_field` (`INVALID_FIELD`): the request is well-formed but a field is not acceptable
  (a URL off the allowlist, a secret of the wrong length, an unknown time zone). The detail
  is `invalid fields: <field>[, <field>…]`, optionally followed by `; <reason>`
  (`parse_invalid_fields` splits it); the reason never quotes the caller's values. → 422.
- `not_found`: the device is known to notification as removed, or as another account's.
- `unavailable`: a dependency did not answer (the caller sees `UnavailableError`). → 503.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from shared.deliveries import DEVICE_ID_PATTERN
from shared.events import Schema
from shared.rpc import INVALID_FIELD, Route, invalid_fields_detail, parse_invalid_fields

__all__ = ["INVALID_FIELD", "invalid_fields_detail", "parse_invalid_fields"]  # re-exported
NOT_FOUND = "not_found"
SECRET_LENGTH = (32, 256)
MAX_URL_LENGTH = 2048

NotificationDetail = Literal["none", "generic", "sender"]
DEFAULT_DETAIL: NotificationDetail = "generic"

_CLOCK = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")
# Files a zoneinfo directory may hold that name no IANA zone (or the machine's own).
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def _iana_zone(name: str) -> str:
    if name not in _zone_names():
        raise ValueError("not an IANA time zone name")
    return name


def _clock(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError("a time of day as HH:MM (00:00 to 23:59)")
    return value


Clock = Annotated[str, AfterValidator(_clock)]
IanaZone = Annotated[str, AfterValidator(_iana_zone)]
AccountId = Annotated[str, Field(min_length=1, max_length=128)]
DeviceId = Annotated[str, Field(pattern=f"^{DEVICE_ID_PATTERN}$")]


class _Body(Schema):
    """A part of a caller's request body: unknown fields are refused, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- push subscriptions ----------------------------------------------------------------


class PushSubscriptionPut(Schema):
    """`PUT /v1/devices/{device_id}/push` of the device's own account."""

    account_id: AccountId
    device_id: DeviceId
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    secret: str = Field(min_length=SECRET_LENGTH[0], max_length=SECRET_LENGTH[1])


class PushSubscriptionQuery(Schema):
    """`GET` / `DELETE /v1/devices/{device_id}/push`."""

    account_id: AccountId
    device_id: DeviceId


class PushSubscriptionReply(Schema):
    """Whether a push gateway is set for the device, and its host; never the secret."""

    set: bool
    host: str | None = None

    def body(self) -> dict[str, Any]:
        return {"set": self.set} | ({"host": self.host} if self.host else {})


# --- notification settings (quiet hours) ---------------------------------------------------


class QuietHours(_Body):
    """Wall-clock times in the account's time zone; `end` before `start` spans midnight."""

    start: Clock
    end: Clock

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("start and end are the same time")
        return self


class NotificationPreferences(_Body):
    """The body of `PUT /v1/me/notification-settings` (and what `GET` returns)."""

    time_zone: IanaZone
    quiet_hours: QuietHours | None = None
    urgent_bypass: bool = False
    # Coaches: a client's urgent attempt while paused reaches them as a content-free notice.
    urgent_while_paused: bool = False

    def body(self) -> dict[str, Any]:
        """The HTTP answer: `quiet_hours` is null, not absent, when there are none."""
        return self.model_dump(mode="json")


DEFAULT_PREFERENCES = NotificationPreferences(time_zone="UTC")


class NotificationSettingsPut(Schema):
    account_id: AccountId
    settings: NotificationPreferences


class NotificationSettingsQuery(Schema):
    account_id: AccountId


class NotificationSettingsReply(Schema):
    """The account's settings; the defaults (UTC, no quiet hours, no bypass) if never set."""

    settings: NotificationPreferences


# --- per-conversation detail ------------------------------------------------------------------


class NotificationDetailQuery(Schema):
    account_id: AccountId
    conversation_id: str = Field(min_length=1, max_length=128)


class NotificationDetailPut(NotificationDetailQuery):
    """How much a push about this conversation may say to this account's devices."""

    notification_detail: NotificationDetail


class NotificationDetailReply(Schema):
    conversation_id: str
    notification_detail: NotificationDetail = DEFAULT_DETAIL


PUSH_PUT = Route("notification.push.put", PushSubscriptionPut, PushSubscriptionReply)
PUSH_GET = Route("notification.push.get", PushSubscriptionQuery, PushSubscriptionReply)
PUSH_DELETE = Route("notification.push.delete", PushSubscriptionQuery, PushSubscriptionReply)
SETTINGS_GET = Route(
    "notification.settings.get", NotificationSettingsQuery, NotificationSettingsReply
)
SETTINGS_PUT = Route(
    "notification.settings.put", NotificationSettingsPut, NotificationSettingsReply
)
DETAIL_GET = Route("notification.detail.get", NotificationDetailQuery, NotificationDetailReply)
DETAIL_PUT = Route("notification.detail.put", NotificationDetailPut, NotificationDetailReply)
