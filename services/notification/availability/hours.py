"""When a coach is available: pure time logic over weekly windows and an away period.

A weekly window opens on its day at `start` and closes at `end` (see
`shared.availability_contracts`: "24:00" is the next midnight, an earlier `end` is past
midnight). A local time becomes the instant at which the coach's clock first shows it:
- a time a spring-forward change skips (02:30 in Berlin on the last Sunday of March) is the
  moment of the change, when the clock jumps past it (03:00 CEST);
- a time a fall-back change shows twice is its first showing (02:30 CEST, not CET).
So each window is one unbroken stretch of real time. An away period overrides the windows.
Every instant here is aware; results are in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.availability_contracts import DAYS, Availability

MINUTES_A_DAY = 24 * 60
EPSILON = timedelta(microseconds=1)
LOOKAHEAD_DAYS = 8  # every weekly window recurs within a week


@dataclass(frozen=True)
class Window:
    """Open on `weekday` (0 = Monday) from `start` to `end`, minutes after that midnight."""

    weekday: int
    start: int
    end: int  # after `start`, at most a day later


@dataclass(frozen=True)
class Schedule:
    zone: ZoneInfo
    windows: tuple[Window, ...]
    away: tuple[datetime, datetime] | None = None  # [from, until)


@dataclass(frozen=True)
class Status:
    available_now: bool
    next_available_at: datetime | None  # `at` itself while available; None: never
    stretch_started_at: datetime | None  # while unavailable, since when (None: always was)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def schedule_of(availability: Availability) -> Schedule:
    windows = []
    for entry in availability.weekly:
        start, end = _minutes(entry.start), _minutes(entry.end)
        windows.append(Window(DAYS.index(entry.day), start, end if end > start else end + 1440))
    away = availability.away
    return Schedule(
        zone=ZoneInfo(availability.time_zone),
        windows=tuple(windows),
        away=None if away is None else (away.from_, away.until),
    )


def local_instant(zone: ZoneInfo, day: date, minutes: int) -> datetime:
    """The instant the zone's clock first shows `minutes` after midnight of `day`."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minutes)
    first = wall.replace(tzinfo=zone, fold=0)  # fold 0: the earlier of an ambiguous pair
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # Skipped by a change: fold 1 reads it with the offset after the change (an instant
    # before the change), fold 0 with the offset before it (after the change).
    return _change_between(zone, wall.replace(tzinfo=zone, fold=1).astimezone(UTC), instant)


def _change_between(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The instant the zone's offset changes in (before, after]; tzdb changes fall on seconds."""
    low, high = int(before.timestamp()), int(after.timestamp())
    offset = before.astimezone(zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _intervals(schedule: Schedule, days: Iterable[date]) -> list[tuple[datetime, datetime]]:
    """The windows opening on these local dates, as [open, close) instants."""
    return [
        (local_instant(schedule.zone, day, w.start), local_instant(schedule.zone, day, w.end))
        for day in sorted(set(days))
        for w in schedule.windows
        if w.weekday == day.weekday()
    ]


def _days(around: datetime, zone: ZoneInfo, before: int, after: int) -> list[date]:
    today = around.astimezone(zone).date()
    return [today + timedelta(days=offset) for offset in range(-before, after + 1)]


def _away_at(schedule: Schedule, at: datetime) -> bool:
    return schedule.away is not None and schedule.away[0] <= at < schedule.away[1]


def available(schedule: Schedule, at: datetime) -> bool:
    """Inside a weekly window and not away (a window lasts a day at most, so windows opening
    up to two days back are all that can hold `at`)."""
    if _away_at(schedule, at):
        return False
    days = _days(at, schedule.zone, 2, 0)
    return any(opens <= at < closes for opens, closes in _intervals(schedule, days))


def next_available(schedule: Schedule, at: datetime) -> datetime | None:
    """`at` while available, else the first instant after it that is, None if there is none.
    Availability begins only where a window opens or where the away period ends: within a
    week of `at` (before an away period that lies ahead), else at or within a week after the
    away period's end."""
    if available(schedule, at):
        return at
    candidates = []
    back_from = at
    if schedule.away is not None and schedule.away[1] > at:
        candidates.append(schedule.away[1])
        back_from = schedule.away[1]
    days = [
        *_days(at, schedule.zone, 1, LOOKAHEAD_DAYS),
        *_days(back_from, schedule.zone, 1, LOOKAHEAD_DAYS),
    ]
    candidates += [opens for opens, _ in _intervals(schedule, days) if opens > at]
    return next((c for c in sorted(candidates) if available(schedule, c)), None)


def stretch_start(schedule: Schedule, at: datetime) -> datetime | None:
    """While unavailable at `at`: the instant the coach last became unavailable (a window
    closing, or the away period beginning), None if never within what a week shows."""
    days = _days(at, schedule.zone, LOOKAHEAD_DAYS, 0)
    candidates = [closes for _, closes in _intervals(schedule, days) if closes <= at]
    if schedule.away is not None and schedule.away[0] <= at:
        candidates.append(schedule.away[0])
        days = _days(schedule.away[0], schedule.zone, LOOKAHEAD_DAYS, 0)
        candidates += [closes for _, closes in _intervals(schedule, days) if closes <= at]
    ends = sorted(candidates, reverse=True)
    return next(
        (c for c in ends if available(schedule, c - EPSILON) and not available(schedule, c)),
        None,
    )


def status(schedule: Schedule | None, at: datetime) -> Status:
    """No schedule (never set): always available. A naive `at` is UTC."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    if schedule is None:
        return Status(available_now=True, next_available_at=at, stretch_started_at=None)
    if available(schedule, at):
        return Status(available_now=True, next_available_at=at, stretch_started_at=None)
    return Status(
        available_now=False,
        next_available_at=next_available(schedule, at),
        stretch_started_at=stretch_start(schedule, at),
    )
