"""The push engine's availability policy: a coach's pushes for a client's message outside
hours (or while away) wait for the next opening, unless the message is urgent and the coach
opted into `urgent_bypass`. WebSocket delivery is never deferred; only pushes ask this.

Registered with the push engine as `app[deferrals_key]["coach_hours"]`
(`services/notification/push/wiring.py`), which asks it again when the time it named comes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from services.notification.availability.service import AvailabilityService
from services.notification.repository import NotificationRepository
from shared.notify_contracts import NotificationPreferences

# Whether the account lets a client's urgent message through at once (its notification
# settings' `urgent_bypass`).
UrgentBypass = Callable[[str], Awaitable[bool]]
# A coach with no weekly hours is never available: pushes wait a day, then ask again, so
# such a coach hears at most once a day rather than never.
NEVER_OPEN_RECHECK = timedelta(days=1)


async def no_bypass(account_id: str) -> bool:
    """No one opted in (for a policy without notification settings to read)."""
    return False


def urgent_bypass_of(
    preferences: Callable[[str], Awaitable[NotificationPreferences]],
) -> UrgentBypass:
    """`urgent_bypass` read from the account's notification settings (the push repository's
    `preferences`, which answers the defaults for an account that never set any)."""

    async def urgent_bypass(account_id: str) -> bool:
        return (await preferences(account_id)).urgent_bypass

    return urgent_bypass


class OutsideHours:
    """A deferral policy `async (recipient_account_id, device_id, conversation_id, urgent, now)
    -> datetime | None`: when the push may be sent, or None for "now"."""

    def __init__(
        self,
        *,
        availability: AvailabilityService,
        relationships: NotificationRepository,
        urgent_bypass: UrgentBypass = no_bypass,
    ) -> None:
        self._availability = availability
        self._relationships = relationships
        self._urgent_bypass = urgent_bypass

    async def __call__(
        self,
        recipient_account_id: str,
        device_id: str,
        conversation_id: str,
        urgent: bool,
        now: datetime,
    ) -> datetime | None:
        relationship = await self._relationships.relationship(conversation_id)
        if relationship is None or recipient_account_id != relationship.coach_account_id:
            return None  # only the coach's pushes, i.e. for the client's messages
        found = await self._availability.status(recipient_account_id, now)
        if found is None or found[1].available_now:
            return None
        if urgent and await self._urgent_bypass(recipient_account_id):
            return None
        return found[1].next_available_at or now + NEVER_OPEN_RECHECK
