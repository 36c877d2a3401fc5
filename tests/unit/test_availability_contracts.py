"""The availability contract: what a coach may set, how it crosses the RPC, how it is answered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pydantic
import pytest

from services.notification.availability.service import AvailabilityService
from shared.availability_contracts import (
    AVAILABILITY_GET,
    AVAILABILITY_PUT,
    Availability,
    AvailabilityPut,
    AvailabilityReply,
)
from shared.rpc import RpcError

NOW = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)  # Tuesday 09:30 in Berlin


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "time_zone": "Europe/Berlin",
        "weekly": [{"day": "tue", "start": "09:00", "end": "17:00"}],
        "response_time_hours": 24,
        "away_message": "I usually reply within a day.",
        "away": {
            "from": "2026-12-10T00:00:00+01:00",
            "until": "2026-12-14T09:00:00+01:00",
            "message": "On leave until Monday.",
            "backup_contact": None,
        },
    }
    return base | changes


def away(**changes: Any) -> dict[str, Any]:
    return dict(body()["away"]) | changes


def invalid_fields(payload: dict[str, Any]) -> set[str]:
    with pytest.raises(pydantic.ValidationError) as caught:
        Availability.model_validate(payload)
    return {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}


def test_backup_contact_must_be_given_even_as_null() -> None:
    without = away()
    del without["backup_contact"]
    assert invalid_fields(body(away=without)) == {"away.backup_contact"}
    assert Availability.model_validate(body()).away is not None  # null: "no backup"
    given = Availability.model_validate(body(away=away(backup_contact="Dr. Lee, 555-0100")))
    assert given.away is not None and given.away.backup_contact == "Dr. Lee, 555-0100"


def test_a_null_backup_contact_survives_the_rpc_which_drops_nulls() -> None:
    request = AvailabilityPut(account_id="coach", availability=Availability.model_validate(body()))
    wire = request.model_dump(mode="json", exclude_none=True)  # what shared.rpc sends
    assert wire["availability"]["away"]["backup_contact"] is None
    assert wire["availability"]["away"]["from"] == "2026-12-09T23:00:00Z"
    assert AvailabilityPut.model_validate(wire) == request


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "/etc/localtime"}, "time_zone"),
        ({"time_zone": "localtime"}, "time_zone"),
        ({"weekly": [{"day": "monday", "start": "09:00", "end": "17:00"}]}, "weekly.0.day"),
        ({"weekly": [{"day": "mon", "start": "9:00", "end": "17:00"}]}, "weekly.0.start"),
        ({"weekly": [{"day": "mon", "start": "24:00", "end": "17:00"}]}, "weekly.0.start"),
        ({"weekly": [{"day": "mon", "start": "09:00", "end": "24:30"}]}, "weekly.0.end"),
        ({"weekly": [{"day": "mon", "start": "09:00", "end": "09:00"}]}, "weekly.0"),
        ({"response_time_hours": 0}, "response_time_hours"),
        ({"away_message": "x" * 1001}, "away_message"),
        ({"away": away(until="2026-12-09T00:00:00+01:00")}, "away"),
        ({"away": away(**{"from": "2026-12-10T00:00:00"})}, "away.from"),
        ({"away": away(backup_contact="")}, "away.backup_contact"),
        ({"away": away(note="x")}, "away.note"),
        ({"holidays": []}, "holidays"),
    ],
)
def test_invalid_availability_names_the_field(changes: dict[str, Any], field: str) -> None:
    assert invalid_fields(body(**changes)) == {field}


def test_windows_may_close_at_midnight_or_past_it() -> None:
    weekly = [
        {"day": "fri", "start": "20:00", "end": "24:00"},
        {"day": "sat", "start": "22:00", "end": "02:00"},
    ]
    assert len(Availability.model_validate(body(weekly=weekly)).weekly) == 2


def test_the_http_answer_renders_every_field_and_nulls_explicitly() -> None:
    reply = AvailabilityReply(
        availability=Availability.model_validate(body(away=None)),
        available_now=False,
        next_available_at=datetime(2026, 12, 8, 8, 0, tzinfo=UTC),
    )
    assert reply.body() == body(away=None) | {
        "available_now": False,
        "next_available_at": "2026-12-08T08:00:00Z",
    }
    never_set = AvailabilityReply(available_now=True, next_available_at=NOW).body()
    assert never_set["time_zone"] is None and never_set["away"] is None
    assert never_set["available_now"] is True


class MemoryAvailability:
    """Same contract as AvailabilityRepository for what AvailabilityService calls."""

    def __init__(self) -> None:
        self.stored: dict[str, Availability] = {}

    async def put(self, account_id: str, availability: Availability) -> None:
        self.stored[account_id] = availability

    async def get(self, account_id: str) -> Availability | None:
        return self.stored.get(account_id)


@pytest.fixture
def routes() -> Any:
    service = AvailabilityService(repository=MemoryAvailability(), clock=lambda: NOW)  # type: ignore[arg-type]
    return service.routes()


async def test_rpc_put_then_get_answers_with_the_status_now(routes: Any) -> None:
    request = {"account_id": "coach", "availability": body()}
    put = await routes[AVAILABILITY_PUT.name](request)
    got = await routes[AVAILABILITY_GET.name]({"account_id": "coach"})
    assert put == got
    reply = AvailabilityReply.model_validate(got)
    assert reply.available_now and reply.next_available_at == NOW
    assert reply.availability == Availability.model_validate(body())


async def test_rpc_get_of_a_coach_without_availability_is_always_available(routes: Any) -> None:
    got = await routes[AVAILABILITY_GET.name]({"account_id": "coach"})
    assert got == {"available_now": True, "next_available_at": "2026-12-01T08:30:00Z"}


async def test_rpc_refuses_a_missing_backup_contact_as_invalid_field(routes: Any) -> None:
    without = away()
    del without["backup_contact"]
    with pytest.raises(RpcError) as caught:
        await routes[AVAILABILITY_PUT.name](
            {"account_id": "coach", "availability": body(away=without)}
        )
    assert caught.value.code == "invalid_field"
    fields, reason = (caught.value.fields, caught.value.reason)
    assert (fields, reason) == (["availability.away.backup_contact"], "Field required")
    with pytest.raises(RpcError) as missing:
        await routes[AVAILABILITY_GET.name]({})
    assert missing.value.code == "invalid_field"
    assert missing.value.fields == ["account_id"]
