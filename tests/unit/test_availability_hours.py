"""When a coach is available: weekly windows in real IANA zones, midnight, away periods and
daylight-saving changes both ways (Europe/Berlin and America/New_York)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.notification.availability.hours import (
    Schedule,
    local_instant,
    schedule_of,
    status,
)
from shared.availability_contracts import Availability

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def schedule(
    zone: str = "Europe/Berlin",
    weekly: list[tuple[str, str, str]] | None = None,
    away: tuple[str, str] | None = None,
) -> Schedule:
    body: dict[str, Any] = {
        "time_zone": zone,
        "weekly": [
            {"day": day, "start": start, "end": end}
            for day, start, end in (
                weekly if weekly is not None else [(d, "09:00", "17:00") for d in WEEKDAYS]
            )
        ],
        "response_time_hours": 24,
        "away_message": "Back soon",
    }
    if away is not None:
        body["away"] = {
            "from": away[0],
            "until": away[1],
            "message": "Away",
            "backup_contact": None,
        }
    return schedule_of(Availability.model_validate(body))


# --- weekdays ------------------------------------------------------------------------------


def test_available_inside_office_hours_in_the_coachs_zone() -> None:
    # Tuesday 2026-12-01, 09:30 in Berlin (CET, UTC+1) is 08:30 UTC.
    now = status(schedule(), utc(2026, 12, 1, 8, 30))
    assert now.available_now
    assert now.next_available_at == utc(2026, 12, 1, 8, 30)
    assert now.stretch_started_at is None


def test_before_opening_the_next_opening_is_the_same_morning() -> None:
    now = status(schedule(), utc(2026, 12, 1, 7, 0))  # 08:00 Berlin
    assert not now.available_now
    assert now.next_available_at == utc(2026, 12, 1, 8, 0)
    assert now.stretch_started_at == utc(2026, 11, 30, 16, 0)  # Monday 17:00 Berlin


def test_closing_time_is_already_closed() -> None:
    now = status(schedule(), utc(2026, 12, 1, 16, 0))  # exactly 17:00 Berlin
    assert not now.available_now
    assert now.next_available_at == utc(2026, 12, 2, 8, 0)
    assert now.stretch_started_at == utc(2026, 12, 1, 16, 0)


def test_friday_evening_waits_for_monday_morning() -> None:
    now = status(schedule(), utc(2026, 12, 4, 18, 0))  # Friday 19:00 Berlin
    assert now.next_available_at == utc(2026, 12, 7, 8, 0)
    assert now.stretch_started_at == utc(2026, 12, 4, 16, 0)


def test_the_weekend_is_one_stretch() -> None:
    saturday = status(schedule(), utc(2026, 12, 5, 12, 0))
    sunday = status(schedule(), utc(2026, 12, 6, 20, 0))
    assert saturday.stretch_started_at == sunday.stretch_started_at == utc(2026, 12, 4, 16, 0)


def test_adjacent_windows_are_one_opening() -> None:
    split = schedule(weekly=[("mon", "09:00", "12:00"), ("mon", "12:00", "17:00")])
    assert status(split, utc(2026, 11, 30, 11, 0)).available_now  # 12:00 Berlin
    evening = status(split, utc(2026, 11, 30, 18, 0))
    assert evening.stretch_started_at == utc(2026, 11, 30, 16, 0)
    assert evening.next_available_at == utc(2026, 12, 7, 8, 0)  # a week later


def test_no_availability_set_is_always_available() -> None:
    now = status(None, utc(2026, 12, 5, 3, 0))
    assert now.available_now
    assert now.next_available_at == utc(2026, 12, 5, 3, 0)


def test_no_weekly_hours_is_never_available() -> None:
    now = status(schedule(weekly=[]), utc(2026, 12, 5, 3, 0))
    assert not now.available_now
    assert now.next_available_at is None
    assert now.stretch_started_at is None


# --- midnight ------------------------------------------------------------------------------


def test_a_window_ending_before_it_starts_runs_past_midnight() -> None:
    night = schedule(weekly=[("fri", "22:00", "02:00")])
    assert status(night, utc(2026, 12, 5, 0, 30)).available_now  # Saturday 01:30 Berlin
    after = status(night, utc(2026, 12, 5, 1, 0))  # Saturday 02:00 Berlin
    assert not after.available_now
    assert after.stretch_started_at == utc(2026, 12, 5, 1, 0)
    assert after.next_available_at == utc(2026, 12, 11, 21, 0)  # next Friday 22:00


def test_a_window_may_end_at_24_00() -> None:
    late = schedule(weekly=[("sun", "20:00", "24:00")])
    assert status(late, utc(2026, 12, 6, 22, 59)).available_now  # Sunday 23:59 Berlin
    midnight = status(late, utc(2026, 12, 6, 23, 0))  # Monday 00:00
    assert not midnight.available_now
    assert midnight.stretch_started_at == utc(2026, 12, 6, 23, 0)


def test_a_whole_day_followed_by_another_is_continuous() -> None:
    days = schedule(weekly=[("sat", "00:00", "24:00"), ("sun", "00:00", "24:00")])
    assert status(days, utc(2026, 12, 5, 23, 0)).available_now  # Sunday 00:00 Berlin
    monday = status(days, utc(2026, 12, 6, 23, 0))
    assert monday.stretch_started_at == utc(2026, 12, 6, 23, 0)
    assert monday.next_available_at == utc(2026, 12, 11, 23, 0)


# --- away ----------------------------------------------------------------------------------


def test_away_overrides_office_hours_until_it_ends_inside_hours() -> None:
    away = schedule(away=("2026-12-01T10:00:00+01:00", "2026-12-03T11:30:00+01:00"))
    now = status(away, utc(2026, 12, 2, 9, 0))  # Wednesday 10:00 Berlin, normally open
    assert not now.available_now
    assert now.next_available_at == utc(2026, 12, 3, 10, 30)  # until, inside Thursday's hours
    assert now.stretch_started_at == utc(2026, 12, 1, 9, 0)  # away began inside hours


def test_away_ending_outside_hours_waits_for_the_next_opening() -> None:
    away = schedule(away=("2026-12-01T10:00:00+01:00", "2026-12-03T20:00:00+01:00"))
    now = status(away, utc(2026, 12, 2, 9, 0))
    assert now.next_available_at == utc(2026, 12, 4, 8, 0)  # Friday 09:00


def test_away_beginning_outside_hours_continues_the_stretch_that_was() -> None:
    away = schedule(away=("2026-12-05T10:00:00+01:00", "2026-12-21T12:00:00+01:00"))
    now = status(away, utc(2026, 12, 16, 9, 0))  # more than a week into it
    assert now.stretch_started_at == utc(2026, 12, 4, 16, 0)  # Friday's closing before it
    assert now.next_available_at == utc(2026, 12, 21, 11, 0)


def test_a_future_away_leaves_today_alone_but_skips_its_openings() -> None:
    away = schedule(away=("2026-12-02T00:00:00+01:00", "2026-12-04T00:00:00+01:00"))
    assert status(away, utc(2026, 12, 1, 9, 0)).available_now
    evening = status(away, utc(2026, 12, 1, 18, 0))
    assert evening.next_available_at == utc(2026, 12, 4, 8, 0)  # not Wed nor Thu


def test_openings_before_an_away_period_ahead_come_first() -> None:
    away = schedule(away=("2026-12-08T00:00:00+01:00", "2026-12-11T00:00:00+01:00"))
    friday = status(away, utc(2026, 12, 4, 18, 0))
    assert friday.next_available_at == utc(2026, 12, 7, 8, 0)  # Monday, before Tuesday's leave


def test_a_long_away_period_is_answered_from_its_end() -> None:
    away = schedule(away=("2026-01-01T00:00:00Z", "2099-01-02T20:00:00Z"))  # a Friday night
    assert status(away, utc(2026, 12, 4, 18, 0)).next_available_at == utc(2099, 1, 5, 8, 0)


def test_a_past_away_changes_nothing() -> None:
    away = schedule(away=("2026-11-01T00:00:00+01:00", "2026-11-04T00:00:00+01:00"))
    assert status(away, utc(2026, 12, 1, 9, 0)).available_now


def test_away_with_no_weekly_hours_is_never_available() -> None:
    away = schedule(weekly=[], away=("2026-12-01T00:00:00Z", "2026-12-03T00:00:00Z"))
    now = status(away, utc(2026, 12, 2, 0, 0))
    assert now.next_available_at is None
    assert now.stretch_started_at is None


# --- daylight saving: spring forward -------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "change"),
    [
        (BERLIN, date(2027, 3, 28), utc(2027, 3, 28, 1, 0)),  # 02:00 CET -> 03:00 CEST
        (NEW_YORK, date(2027, 3, 14), utc(2027, 3, 14, 7, 0)),  # 02:00 EST -> 03:00 EDT
    ],
)
def test_a_skipped_time_happens_when_the_clock_jumps_past_it(
    zone: ZoneInfo, day: date, change: datetime
) -> None:
    assert local_instant(zone, day, 2 * 60 + 30) == change
    assert local_instant(zone, day, 2 * 60) == change  # the first minute of the gap too
    assert local_instant(zone, day, 3 * 60) == change  # 03:00 exists: the same instant


@pytest.mark.parametrize(
    ("zone", "before", "change"),
    [
        ("Europe/Berlin", utc(2027, 3, 28, 0, 30), utc(2027, 3, 28, 1, 0)),
        ("America/New_York", utc(2027, 3, 14, 6, 30), utc(2027, 3, 14, 7, 0)),
    ],
)
def test_an_opening_at_a_skipped_time_opens_at_the_change(
    zone: str, before: datetime, change: datetime
) -> None:
    dawn = schedule(zone, weekly=[("sun", "02:30", "10:00")])
    waiting = status(dawn, before)  # 01:30 local, half an hour before the clocks jump
    assert not waiting.available_now
    assert waiting.next_available_at == change
    assert status(dawn, change).available_now


def test_the_week_after_spring_forward_opens_an_hour_earlier_in_utc_berlin() -> None:
    # Friday 2027-03-26 17:00 CET closes at 16:00 UTC; Monday 09:00 is CEST, 07:00 UTC.
    friday = status(schedule(), utc(2027, 3, 26, 18, 0))
    assert friday.stretch_started_at == utc(2027, 3, 26, 16, 0)
    assert friday.next_available_at == utc(2027, 3, 29, 7, 0)


def test_the_week_after_spring_forward_opens_an_hour_earlier_in_utc_new_york() -> None:
    # Friday 2027-03-12 17:00 EST is 22:00 UTC; Monday 09:00 EDT is 13:00 UTC.
    friday = status(schedule("America/New_York"), utc(2027, 3, 13, 1, 0))
    assert friday.stretch_started_at == utc(2027, 3, 12, 22, 0)
    assert friday.next_available_at == utc(2027, 3, 15, 13, 0)


def test_a_night_window_through_the_gap_is_shorter_by_the_hour() -> None:
    night = schedule(weekly=[("sat", "22:00", "06:00")])
    # Saturday 22:00 CET = 21:00 UTC to Sunday 06:00 CEST = 04:00 UTC: seven real hours.
    assert status(night, utc(2027, 3, 27, 21, 0)).available_now
    assert status(night, utc(2027, 3, 28, 3, 59)).available_now
    closed = status(night, utc(2027, 3, 28, 4, 0))
    assert not closed.available_now
    assert closed.stretch_started_at == utc(2027, 3, 28, 4, 0)


# --- daylight saving: fall back ------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "minutes", "first"),
    [
        (BERLIN, date(2027, 10, 31), 2 * 60 + 30, utc(2027, 10, 31, 0, 30)),  # 02:30 CEST
        (NEW_YORK, date(2027, 11, 7), 60 + 30, utc(2027, 11, 7, 5, 30)),  # 01:30 EDT
    ],
)
def test_a_time_shown_twice_is_its_first_showing(
    zone: ZoneInfo, day: date, minutes: int, first: datetime
) -> None:
    assert local_instant(zone, day, minutes) == first


@pytest.mark.parametrize(
    ("zone", "weekly", "before", "first"),
    [
        (
            "Europe/Berlin",
            ("sun", "02:30", "05:00"),
            utc(2027, 10, 31, 0, 0),
            utc(2027, 10, 31, 0, 30),
        ),
        (
            "America/New_York",
            ("sun", "01:30", "05:00"),
            utc(2027, 11, 7, 5, 0),
            utc(2027, 11, 7, 5, 30),
        ),
    ],
)
def test_an_opening_in_the_repeated_hour_opens_at_its_first_showing_and_stays_open(
    zone: str, weekly: tuple[str, str, str], before: datetime, first: datetime
) -> None:
    repeated = schedule(zone, weekly=[weekly])
    waiting = status(repeated, before)
    assert waiting.next_available_at == first
    # An hour later the clock shows the opening time again: still the same, unbroken window.
    assert status(repeated, first.replace(hour=first.hour + 1)).available_now


def test_the_week_after_fall_back_opens_an_hour_later_in_utc_berlin() -> None:
    # Friday 2027-10-29 17:00 CEST closes at 15:00 UTC; Monday 09:00 CET is 08:00 UTC.
    friday = status(schedule(), utc(2027, 10, 29, 16, 0))
    assert friday.stretch_started_at == utc(2027, 10, 29, 15, 0)
    assert friday.next_available_at == utc(2027, 11, 1, 8, 0)


def test_the_week_after_fall_back_opens_an_hour_later_in_utc_new_york() -> None:
    # Friday 2027-11-05 17:00 EDT is 21:00 UTC; Monday 09:00 EST is 14:00 UTC.
    friday = status(schedule("America/New_York"), utc(2027, 11, 5, 22, 0))
    assert friday.stretch_started_at == utc(2027, 11, 5, 21, 0)
    assert friday.next_available_at == utc(2027, 11, 8, 14, 0)


def test_a_night_window_through_the_repeated_hour_is_longer_by_the_hour() -> None:
    night = schedule("America/New_York", weekly=[("sat", "22:00", "06:00")])
    # Saturday 22:00 EDT = 02:00 UTC to Sunday 06:00 EST = 11:00 UTC: nine real hours.
    assert status(night, utc(2027, 11, 7, 10, 59)).available_now
    assert status(night, utc(2027, 11, 7, 11, 0)).stretch_started_at == utc(2027, 11, 7, 11, 0)


def test_away_until_a_time_after_the_change_in_new_york() -> None:
    away = schedule(
        "America/New_York", away=("2027-11-03T00:00:00-04:00", "2027-11-08T10:00:00-05:00")
    )
    now = status(away, utc(2027, 11, 5, 15, 0))
    assert now.next_available_at == utc(2027, 11, 8, 15, 0)  # Monday 10:00 EST, inside hours
