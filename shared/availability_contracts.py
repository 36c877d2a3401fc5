"""Coach availability, answered by notification over `haven.rpc`: routes, requests, replies.

The gateway parses `PUT /v1/me/availability` into `AvailabilityPut` (a `ValidationError` there
is its 422) and calls `RpcClient.call(AVAILABILITY_PUT, ...)`; `GET .../availability` calls
`AVAILABILITY_GET` and renders `reply.body()`. notification serves both (`Route.serve`) and
answers a request that fails validation with the error code `invalid_field` (`INVALID_FIELD`
of `shared.notify_contracts`, whose convention it follows): its detail names the fields,
then why (`invalid fields: availability.away.backup_contact; Field required`).

Weekly windows are wall-clock times in `time_zone`: `end` "24:00" closes at the next
midnight and an `end` earlier than `start` closes on the next day (past midnight); an
`end` equal to `start` is refused. `away` overrides the weekly hours from `from` until `until`.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from shared.events import Schema
from shared.notify_contracts import Clock, IanaZone
from shared.rpc import Route
from shared.wire import UtcDatetime, iso_utc

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_WINDOWS = 70  # ten a day
MAX_TEXT = 1000
_CLOSING = re.compile(r"^(?:(?:[01]\d|2[0-3]):[0-5]\d|24:00)$")


def _closing(value: str) -> str:
    if not _CLOSING.match(value):
        raise ValueError("a time of day as HH:MM (00:00 to 24:00)")
    return value


Closing = Annotated[str, AfterValidator(_closing)]  # "24:00" closes at the next midnight

# A time the caller gave with its offset (never a naive one), kept and rendered in UTC.
AwareUtc = Annotated[
    AwareDatetime,
    AfterValidator(lambda value: value.astimezone(UTC)),
    PlainSerializer(iso_utc, return_type=str, when_used="json"),
]


class _Body(Schema):
    """A part of the coach's request body: unknown fields are refused, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Window(_Body):
    day: Day
    start: Clock
    end: Closing

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("start and end are the same time; use 00:00 to 24:00 for a day")
        return self


class Away(_Body):
    """Away from `from` until `until`. `backup_contact` must be given: text, or null for none."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, serialize_by_alias=True
    )

    from_: AwareUtc = Field(alias="from")
    until: AwareUtc
    message: str = Field(max_length=MAX_TEXT)
    backup_contact: str | None = Field(min_length=1, max_length=MAX_TEXT)  # required, may be null

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> Self:
        if self.until <= self.from_:
            raise ValueError("until must be later than from")
        return self

    @model_serializer(mode="wrap")
    def _explicit_backup(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """RPC dumps leave out nulls, but a null `backup_contact` is an answer ("no backup")
        that must survive the trip."""
        dumped: dict[str, Any] = handler(self)
        dumped["backup_contact"] = self.backup_contact
        return dumped


class Availability(_Body):
    """What a coach sets: the body of `PUT /v1/me/availability`."""

    time_zone: IanaZone
    weekly: list[Window] = Field(max_length=MAX_WINDOWS)
    response_time_hours: int = Field(ge=1, le=720)
    away_message: str = Field(max_length=MAX_TEXT)
    away: Away | None = None


class AvailabilityPut(Schema):
    account_id: str = Field(min_length=1)
    availability: Availability


class AvailabilityQuery(Schema):
    account_id: str = Field(min_length=1)


class AvailabilityReply(Schema):
    """A coach's availability as stored (None: never set, so always available) and, at the
    moment of answering, whether the coach is available and when next (`next_available_at`
    is now while available, None if never)."""

    availability: Availability | None = None
    available_now: bool
    next_available_at: UtcDatetime | None = None

    def body(self) -> dict[str, Any]:
        """The HTTP answer: the availability's fields (null when never set) plus the two."""
        fields = (
            self.availability.model_dump(mode="json")
            if self.availability is not None
            else dict.fromkeys(Availability.model_fields)
        )
        at = self.next_available_at
        return fields | {
            "available_now": self.available_now,
            "next_available_at": None if at is None else iso_utc(at),
        }


AVAILABILITY_PUT = Route("notification.availability.put", AvailabilityPut, AvailabilityReply)
AVAILABILITY_GET = Route("notification.availability.get", AvailabilityQuery, AvailabilityReply)
