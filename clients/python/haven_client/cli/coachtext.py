"""Coach settings as people write and read them: "mon-fri 09:00-17:00" and "24h" in,
sentences out (never a Python dict on the screen)."""

from __future__ import annotations

import re
from datetime import datetime

from haven_client.errors import InvalidSetting
from haven_client.expectations import duration
from haven_client.models import CoachAvailability, NotificationSettings, WeeklyHours

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SPAN = re.compile(r"^([a-z]{3})(?:-([a-z]{3}))?\s+(\d{1,2}:\d{2})-(\d{1,2}:\d{2})$")
_HOURS = re.compile(r"^(\d+)\s*(h|d)$")


def weekly(text: str) -> list[WeeklyHours]:
    """ "mon-fri 09:00-17:00, sat 10:00-12:00" as openings (days may wrap: "fri-mon")."""
    openings: list[WeeklyHours] = []
    for part in filter(None, (p.strip().lower() for p in re.split(r"[,;]", text))):
        found = _SPAN.match(part)
        if found is None or found[1] not in DAYS or (found[2] and found[2] not in DAYS):
            raise InvalidSetting(f'--weekly: write spans like "mon-fri 09:00-17:00", not {part!r}')
        first = DAYS.index(found[1])
        last = DAYS.index(found[2]) if found[2] else first
        count = (last - first) % 7 + 1
        for offset in range(count):
            day = DAYS[(first + offset) % 7]
            openings.append(WeeklyHours(day=day, start=_clock(found[3]), end=_clock(found[4])))
    return openings


def hours(text: str) -> int:
    """ "24h" or "2d" as whole hours."""
    found = _HOURS.match(text.strip().lower())
    if found is None or int(found[1]) < 1:
        raise InvalidSetting(f'--reply-within: write a time like "24h" or "2d", not {text!r}')
    return int(found[1]) * (24 if found[2] == "d" else 1)


def _clock(value: str) -> str:
    hour, minute = value.split(":")
    return f"{int(hour):02d}:{minute}"


def availability_sentences(name: str, shown: CoachAvailability) -> str:
    """What a person reads for a coach's availability."""
    if not shown.is_set:
        return f"{name} has not set hours yet, so messages can arrive at any time."
    lines = [f"{name} usually replies within {duration(shown.response_time_hours or 0)}."]
    if shown.weekly:
        zone = f" ({shown.time_zone})" if shown.time_zone else ""
        lines.append(f"Hours{zone}: {hours_text(shown.weekly)}.")
    lines.append("Available now." if shown.available_now else _next(shown.next_available_at))
    if shown.away_message:
        lines.append(f"Away note: {shown.away_message}")
    if shown.away is not None:
        lines.append(f"Away from {shown.away.from_:%Y-%m-%d} until {shown.away.until:%Y-%m-%d}.")
    return "\n".join(lines)


def hours_text(openings: list[WeeklyHours]) -> str:
    """Consecutive days with the same hours together: "Monday to Friday 09:00-17:00"."""
    by_day = {(DAYS.index(o.day), o.start, o.end) for o in openings}
    groups: list[tuple[int, int, str, str]] = []
    for day, start, end in sorted(by_day):
        if groups and groups[-1][1] == day - 1 and groups[-1][2:] == (start, end):
            groups[-1] = (groups[-1][0], day, start, end)
        else:
            groups.append((day, day, start, end))
    return ", ".join(
        (NAMES[a] if a == b else f"{NAMES[a]} to {NAMES[b]}") + f" {start}-{end}"
        for a, b, start, end in groups
    )


def _next(moment: datetime | None) -> str:
    if moment is None:
        return "Not available for now."
    return f"Next available {moment:%A %Y-%m-%d %H:%M %Z}."


def notification_sentences(settings: NotificationSettings, *, coach: bool) -> str:
    quiet = settings.quiet_hours
    lines = [
        f"Times are in {settings.time_zone}.",
        f"Quiet hours from {quiet.start} to {quiet.end}: pushes wait and come as one."
        if quiet is not None
        else "No quiet hours: pushes come at any time.",
    ]
    if coach:
        lines.append(
            "Urgent messages come through quiet hours."
            if settings.urgent_bypass
            else "Urgent messages wait for quiet hours to end too."
        )
        lines.append(
            "While you have paused a conversation, you are told when the client tries an"
            " urgent message (never its words)."
            if settings.urgent_while_paused
            else "While you have paused a conversation, urgent attempts are not announced to you."
        )
    return "\n".join(lines)
