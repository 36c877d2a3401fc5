"""haven_client.expectations: the calm "usually replies within…" line, its times in the reader's
zone through zoneinfo (daylight saving both ways, zones that change on different dates)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from haven_client import InvalidSetting
from haven_client.expectations import duration, plain, reply_expectation_line, when, zone

BERLIN = ZoneInfo("Europe/Berlin")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _line(
    *,
    now: str,
    next_at: str | None,
    available_now: bool = False,
    hours: int | None = 24,
    backup: str | None = None,
    where: ZoneInfo | None = BERLIN,
    name: str = "Kim",
) -> str:
    return reply_expectation_line(
        name,
        response_time_hours=hours,
        available_now=available_now,
        next_available_at=None if next_at is None else _at(next_at),
        backup_contact=backup,
        now=_at(now),
        where=where,
    )


def test_outside_weekly_hours_names_the_next_opening_by_weekday() -> None:
    line = _line(now="2025-03-26T19:00:00+01:00", next_at="2025-03-28T08:00:00Z")

    assert line == "Kim usually replies within 24 hours; next available Friday 09:00."


def test_next_opening_after_spring_forward_is_shown_in_summer_time() -> None:
    # Friday evening in winter time (+01:00); Monday's 09:00 opening is in summer time (+02:00):
    # the offset of "now" would show 08:00.
    line = _line(now="2025-03-28T18:00:00+01:00", next_at="2025-03-31T07:00:00Z")

    assert line == "Kim usually replies within 24 hours; next available Monday 09:00."


def test_next_opening_after_fall_back_is_shown_in_winter_time() -> None:
    line = _line(now="2025-10-24T18:00:00+02:00", next_at="2025-10-27T08:00:00Z")

    assert line == "Kim usually replies within 24 hours; next available Monday 09:00."


def test_coach_and_client_zones_changing_on_different_dates() -> None:
    # New York moved to summer time on 9 March 2025, Berlin only on 30 March: the coach's
    # 09:00 EDT opening is 14:00 in Berlin that week (15:00 a month later).
    opening = datetime(2025, 3, 10, 9, 0, tzinfo=ZoneInfo("America/New_York"))

    line = _line(now="2025-03-07T20:00:00Z", next_at=opening.isoformat())

    assert line.endswith("next available Monday 14:00.")


def test_today_and_tomorrow_are_counted_in_the_readers_zone() -> None:
    assert when(_at("2025-03-31T07:00:00Z"), _at("2025-03-31T06:00:00Z"), BERLIN) == "today 09:00"
    assert (
        when(_at("2025-04-01T07:00:00Z"), _at("2025-03-31T16:00:00Z"), BERLIN) == "tomorrow 09:00"
    )
    # 23:30 UTC on Sunday is already Monday 01:30 in Berlin.
    late = _at("2025-03-30T23:30:00Z")
    assert when(_at("2025-03-31T07:00:00Z"), late, BERLIN) == "today 09:00"
    assert when(_at("2025-03-31T07:00:00Z"), late, ZoneInfo("UTC")) == "tomorrow 07:00"


def test_openings_a_week_or_more_away_carry_the_date_and_another_year_the_year() -> None:
    assert (
        when(_at("2025-04-14T07:00:00Z"), _at("2025-03-28T12:00:00Z"), BERLIN)
        == "Monday 14 April 09:00"
    )
    assert (
        when(_at("2026-01-12T08:00:00Z"), _at("2025-12-28T12:00:00Z"), BERLIN)
        == "Monday 12 January 2026 09:00"
    )


def test_no_next_opening_says_not_available_for_now() -> None:
    line = _line(now="2025-03-28T18:00:00+01:00", next_at=None)

    assert line == "Kim usually replies within 24 hours; not available for now."


def test_away_with_a_backup_contact_names_who_to_reach() -> None:
    line = _line(
        now="2025-03-28T18:00:00+01:00",
        next_at="2025-04-07T07:00:00Z",
        hours=48,
        backup="Alex Chen, alex@example.org",
    )

    assert line == (
        "Kim usually replies within 2 days; next available Monday 7 April 09:00. "
        "While Kim is away, you can reach Alex Chen, alex@example.org."
    )


def test_available_now_only_sets_the_expected_reply_time() -> None:
    now = "2025-03-31T08:00:00Z"

    assert _line(now=now, next_at=now, available_now=True) == "Kim usually replies within 24 hours."


def test_an_opening_already_past_is_not_announced_as_upcoming() -> None:
    line = _line(now="2025-03-31T08:00:00Z", next_at="2025-03-31T07:00:00Z")

    assert line == "Kim usually replies within 24 hours."


def test_a_coach_who_never_set_availability_gets_a_neutral_line() -> None:
    line = _line(now="2025-03-31T08:00:00Z", next_at=None, available_now=True, hours=None)

    assert line == "Kim will reply when they can."


def test_coach_written_text_cannot_break_the_line_or_reorder_it() -> None:
    sneaky = "Kim\n\x1b[31mURGENT\u202e  now"

    assert plain(sneaky) == "Kim [31mURGENT now"
    assert "\n" not in _line(now="2025-03-31T08:00:00Z", next_at=None, backup="a\r\nb")
    assert _line(now="2025-03-31T08:00:00Z", next_at=None, name=" \u200b ").startswith(
        "Your coach usually replies"
    )


@pytest.mark.parametrize(
    ("hours", "text"), [(1, "1 hour"), (24, "24 hours"), (36, "36 hours"), (72, "3 days")]
)
def test_response_times_read_naturally(hours: int, text: str) -> None:
    assert duration(hours) == text


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(InvalidSetting):
        zone("Mars/Olympus_Mons")
    assert zone(None) is None


@pytest.fixture
def new_york_local_time() -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.usefixtures("new_york_local_time")
def test_without_a_zone_the_machines_local_rules_apply_for_the_moment_shown() -> None:
    # Friday 7 March is still EST (-05:00); Monday 10 March is EDT (-04:00).
    line = _line(now="2025-03-07T20:00:00Z", next_at="2025-03-10T13:00:00Z", where=None)

    assert line.endswith("next available Monday 09:00.")
