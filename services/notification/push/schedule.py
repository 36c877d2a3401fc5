"""When a push may go out: the collapse window, quiet hours, and the deferral policies.

Collapse (per device and conversation), leading edge: a message owed with no window open is
due at once, and the push that carries it opens a window of `window` seconds; messages owed
while the window is open wait for its end and go out as one push carrying the unread count
(which opens the next window). An urgent message does not wait for the window. So a burst
yields two pushes: its first message at once, the rest when the window ends.

Quiet hours are one stretch per night: they begin when the recipient's clock (IANA zone)
first shows `start` and end when it next shows `end` (`end` before `start` spans midnight).
Wall times come from `zoneinfo`: one that does not exist (the hour skipped when clocks go
forward) is read with the offset before the change, as Python does (02:30 → 03:30 summer
time); one that occurs twice (clocks go back) means its first occurrence. So a stretch is
an hour shorter or longer on the nights the clocks change.

Deferral policies are `async (recipient_account_id, device_id, conversation_id, urgent, now)
-> datetime | None`: "not before" that time, or None. A push waits for the latest answer and
is asked again then (another policy may now say "later").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.notify_contracts import NotificationPreferences, QuietHours

DeferralPolicy = Callable[[str, str, str, bool, datetime], Awaitable[datetime | None]]


def collapse_due(now: datetime, *, urgent: bool, window_until: datetime | None) -> datetime:
    """When a message owed now may be pushed: at once, unless a window (opened by the last
    push) is still open and the message is not urgent: then when it ends."""
    if urgent or window_until is None or window_until <= now:
        return now
    return window_until


def window_end(sent_at: datetime, window: timedelta) -> datetime:
    """The end of the window a push sent at `sent_at` opens."""
    return sent_at + window


def send_after(
    now: datetime, window_until: datetime | None, waits: Iterable[datetime | None]
) -> datetime | None:
    """The latest of the open window's end and every policy's answer, or None if that
    is not in the future (send now)."""
    latest = max((t for t in (window_until, *waits) if t is not None), default=None)
    return latest if latest is not None and latest > now else None


def _wall(day: date, clock: str, zone: ZoneInfo) -> datetime:
    """The instant, in UTC: a local time in a gap or a fold compares unequal to every instant
    of another zone, so none leaves this function."""
    hours, minutes = (int(part) for part in clock.split(":"))
    local = datetime.combine(day, time(hours, minutes), tzinfo=zone)  # fold=0: see above
    return local.astimezone(UTC)


def quiet_until(rule: QuietHours, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The end of the quiet stretch `now` falls in, or None if `now` is not quiet."""
    local = now.astimezone(zone)
    for back in (0, 1):
        day = local.date() - timedelta(days=back)
        start = _wall(day, rule.start, zone)
        if start > now:
            continue  # today's stretch has not begun: yesterday's decides
        end_day = day if rule.end > rule.start else day + timedelta(days=1)
        end = _wall(end_day, rule.end, zone)
        return end if now < end else None
    return None


# The account's notification settings; the defaults when it never set any.
Preferences = Callable[[str], Awaitable[NotificationPreferences]]


def quiet_hours_policy(preferences: Preferences) -> DeferralPolicy:
    """Pushes wait out the recipient's quiet hours, unless the message is urgent and the
    recipient opted into `urgent_bypass` (coaches: a client's urgent message goes at once)."""

    async def quiet_hours(
        account_id: str, device_id: str, conversation_id: str, urgent: bool, now: datetime
    ) -> datetime | None:
        settings = await preferences(account_id)
        if settings.quiet_hours is None or (urgent and settings.urgent_bypass):
            return None
        return quiet_until(settings.quiet_hours, ZoneInfo(settings.time_zone), now)

    return quiet_hours
