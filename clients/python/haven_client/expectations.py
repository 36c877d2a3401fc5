"""The plain line a client sees about when their coach will reply, before and after writing.

Built only from what the coach chose to share (response time, hours, a backup contact
while away) and the server's ``next_available_at``; worded to set an expectation, never
to alarm: "Kim usually replies within 24 hours; next available Monday 09:00."

Times are shown in an IANA zone through ``zoneinfo`` (daylight saving is applied for the
moment shown, not the current offset), or in the machine's own local time.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from haven_client.errors import InvalidSetting

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
FALLBACK_NAME = "Your coach"


def zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone ``name``; None means the machine's local time."""
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSetting(f"not an IANA time zone name: {name!r}") from exc


def plain(text: str | None) -> str:
    """One line of coach-written text: control and direction-override characters dropped,
    runs of whitespace made one space (a display name must not forge a second line)."""
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text or ""
        if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf")
    )
    return " ".join(kept.split())


def local(moment: datetime, where: tzinfo | None) -> datetime:
    """``moment`` as a wall clock in ``where`` (None: this machine's rules for that instant)."""
    return moment.astimezone(where) if where is not None else moment.astimezone()


def when(moment: datetime, now: datetime, where: tzinfo | None) -> str:
    """As "today 14:00", "tomorrow 09:00", "Monday 09:00" in the week ahead, else with the date."""
    shown, today = local(moment, where), local(now, where).date()
    clock = f"{shown:%H:%M}"
    days = (shown.date() - today).days
    if days == 0:
        return f"today {clock}"
    if days == 1:
        return f"tomorrow {clock}"
    weekday = _DAYS[shown.weekday()]
    if 1 < days < 7:
        return f"{weekday} {clock}"
    year = f" {shown.year}" if shown.year != today.year else ""
    return f"{weekday} {shown.day} {_MONTHS[shown.month - 1]}{year} {clock}"


def duration(hours: int) -> str:
    if hours % 24 == 0 and hours >= 48:
        return f"{hours // 24} days"
    return "1 hour" if hours == 1 else f"{hours} hours"


def reply_expectation_line(
    name: str,
    *,
    response_time_hours: int | None,
    available_now: bool,
    next_available_at: datetime | None,
    backup_contact: str | None,
    now: datetime,
    where: tzinfo | None,
) -> str:
    """The line itself. ``next_available_at`` None while not available: "not available for
    now"; one already past counts as available (an old notice must not mislead)."""
    who = plain(name) or FALLBACK_NAME
    if response_time_hours is None:
        line = f"{who} will reply when they can"
    else:
        line = f"{who} usually replies within {duration(response_time_hours)}"
    if next_available_at is not None and next_available_at - now <= timedelta(0):
        available_now = True
    if not available_now:
        line += (
            "; not available for now"
            if next_available_at is None
            else f"; next available {when(next_available_at, now, where)}"
        )
    backup = plain(backup_contact)
    return f"{line}. While {who} is away, you can reach {backup}." if backup else f"{line}."
