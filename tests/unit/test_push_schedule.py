"""When pushes go out: the collapse window, quiet hours in IANA zones (midnight, DST both
ways), and how deferral policies combine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.notification.push.schedule import (
    collapse_due,
    quiet_hours_policy,
    quiet_until,
    send_after,
    window_end,
)
from shared.notify_contracts import NotificationPreferences, QuietHours

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NIGHT = QuietHours(start="22:00", end="07:00")
WINDOW = timedelta(seconds=30)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- collapse ---------------------------------------------------------------------------


def test_a_message_with_no_window_open_is_due_at_once_an_urgent_one_always() -> None:
    now = utc("2026-05-04T10:00:00")
    assert collapse_due(now, urgent=False, window_until=None) == now
    assert collapse_due(now, urgent=False, window_until=now - WINDOW) == now  # it has ended
    assert collapse_due(now, urgent=False, window_until=now + WINDOW) == now + WINDOW
    assert collapse_due(now, urgent=True, window_until=now + WINDOW) == now


def test_a_burst_gives_a_push_at_once_and_one_at_the_end_of_the_window_it_opened() -> None:
    """The first message goes at once and its push opens the window; the rest join its end."""
    first = utc("2026-05-04T10:00:00")
    assert collapse_due(first, urgent=False, window_until=None) == first
    window = window_end(first, WINDOW)
    arrivals = [first + timedelta(seconds=s) for s in (1, 4, 11, 29)]
    due = {collapse_due(at, urgent=False, window_until=window) for at in arrivals}
    assert due == {first + WINDOW}
    assert send_after(first + timedelta(seconds=29), window, []) == window  # still collapsing
    assert send_after(first + WINDOW, window, []) is None  # now: one push for all four


def test_send_after_waits_for_the_latest_policy() -> None:
    now = utc("2026-05-04T10:00:00")
    later, latest = now + timedelta(hours=1), now + timedelta(hours=3)
    assert send_after(now, None, []) is None
    assert send_after(now, now - WINDOW, [None, None]) is None
    assert send_after(now, now + WINDOW, [later, None, latest]) == latest
    assert send_after(now, now + WINDOW, [now - WINDOW]) == now + WINDOW


# --- quiet hours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "until"),
    [
        ("2026-05-04T19:59:00", None),  # 21:59 in Berlin (CEST, +2)
        ("2026-05-04T20:00:00", "2026-05-05T05:00:00"),  # 22:00: quiet until 07:00
        ("2026-05-04T21:30:00", "2026-05-05T05:00:00"),  # 23:30
        ("2026-05-05T01:00:00", "2026-05-05T05:00:00"),  # 03:00, past midnight
        ("2026-05-05T04:59:59", "2026-05-05T05:00:00"),
        ("2026-05-05T05:00:00", None),  # 07:00: over
        ("2026-05-05T12:00:00", None),
    ],
)
def test_quiet_hours_across_midnight(at: str, until: str | None) -> None:
    assert quiet_until(NIGHT, BERLIN, utc(at)) == (None if until is None else utc(until))


def test_quiet_hours_within_a_day_and_in_a_half_hour_zone() -> None:
    lunch = QuietHours(start="12:30", end="13:15")
    kolkata = ZoneInfo("Asia/Kolkata")  # +05:30
    assert quiet_until(lunch, kolkata, utc("2026-05-04T06:59:00")) is None  # 12:29
    assert quiet_until(lunch, kolkata, utc("2026-05-04T07:00:00")) == utc("2026-05-04T07:45:00")
    assert quiet_until(lunch, kolkata, utc("2026-05-04T07:45:00")) is None


def test_spring_forward_shortens_the_night_berlin() -> None:
    """2026-03-29 02:00 CET becomes 03:00 CEST: 22:00 CET (21:00Z) to 07:00 CEST (05:00Z)."""
    assert quiet_until(NIGHT, BERLIN, utc("2026-03-28T21:00:00")) == utc("2026-03-29T05:00:00")
    assert quiet_until(NIGHT, BERLIN, utc("2026-03-29T04:30:00")) == utc("2026-03-29T05:00:00")
    assert quiet_until(NIGHT, BERLIN, utc("2026-03-29T05:00:00")) is None


def test_fall_back_lengthens_the_night_berlin() -> None:
    """2026-10-25 03:00 CEST becomes 02:00 CET: 22:00 CEST (20:00Z) to 07:00 CET (06:00Z)."""
    assert quiet_until(NIGHT, BERLIN, utc("2026-10-24T20:00:00")) == utc("2026-10-25T06:00:00")
    assert quiet_until(NIGHT, BERLIN, utc("2026-10-25T05:30:00")) == utc("2026-10-25T06:00:00")
    assert quiet_until(NIGHT, BERLIN, utc("2026-10-25T06:00:00")) is None


def test_an_end_in_the_skipped_hour_is_read_with_the_offset_before_the_change() -> None:
    """02:30 does not exist on 2026-03-08 in New York: read as 02:30 EST = 07:30Z."""
    early = QuietHours(start="23:00", end="02:30")
    assert quiet_until(early, NEW_YORK, utc("2026-03-08T06:59:00")) == utc("2026-03-08T07:30:00")
    assert quiet_until(early, NEW_YORK, utc("2026-03-08T07:30:00")) is None


def test_an_end_in_the_repeated_hour_is_its_first_occurrence_and_the_night_ends_once() -> None:
    """01:30 happens twice on 2026-11-01 in New York (EDT 05:30Z, then EST 06:30Z)."""
    early = QuietHours(start="23:00", end="01:30")
    assert quiet_until(early, NEW_YORK, utc("2026-11-01T05:00:00")) == utc("2026-11-01T05:30:00")
    assert quiet_until(early, NEW_YORK, utc("2026-11-01T06:10:00")) is None  # 01:10 EST again


def test_a_start_in_the_skipped_hour_begins_after_the_change() -> None:
    """02:15 to 06:00 on the New York spring-forward night: from 03:15 EDT (07:15Z)."""
    odd = QuietHours(start="02:15", end="06:00")
    assert quiet_until(odd, NEW_YORK, utc("2026-03-08T07:05:00")) is None  # 03:05 EDT
    assert quiet_until(odd, NEW_YORK, utc("2026-03-08T07:15:00")) == utc("2026-03-08T10:00:00")


# --- the quiet-hours policy ----------------------------------------------------------------


async def test_policy_defers_until_quiet_hours_end_unless_urgent_with_bypass() -> None:
    settings = {
        "coach": NotificationPreferences(
            time_zone="Europe/Berlin", quiet_hours=NIGHT, urgent_bypass=True
        ),
        "client": NotificationPreferences(time_zone="Europe/Berlin", quiet_hours=NIGHT),
        "nobody": NotificationPreferences(time_zone="Europe/Berlin"),
    }

    async def preferences(account_id: str) -> NotificationPreferences:
        return settings[account_id]

    policy = quiet_hours_policy(preferences)
    night, morning = utc("2026-05-04T21:30:00"), utc("2026-05-05T05:00:00")
    assert await policy("coach", "d1", "c1", False, night) == morning
    assert await policy("coach", "d1", "c1", True, night) is None  # bypass: at once
    assert await policy("client", "d2", "c1", True, night) == morning  # no bypass
    assert await policy("nobody", "d3", "c1", False, night) is None
