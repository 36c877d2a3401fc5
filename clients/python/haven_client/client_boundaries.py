"""``HavenClient``'s notification and boundary calls: push, quiet hours, a coach's hours."""

from __future__ import annotations

from haven_client.api import HavenApi
from haven_client.boundaries import KEEP, Boundaries, Keep, QuietHoursChange
from haven_client.models import Availability, CoachAvailability, NotificationSettings, PushStatus


class BoundaryCalls:
    """Mixed into ``HavenClient``, which sets these parts."""

    api: HavenApi
    boundaries: Boundaries

    async def set_push(self, url: str, secret: str) -> PushStatus:
        """Register this device's push gateway (the app's relay to APNs/FCM). Pushes are signed
        with ``secret`` (32 to 256 characters, see ``new_push_secret``); the URL must not carry
        credentials. Refused with ``InvalidRequest`` when off the operator's allowlist."""
        return await self.boundaries.set_push(url, secret)

    async def push_status(self) -> PushStatus:
        """Whether this device has a push gateway, and its host (never the secret)."""
        return await self.boundaries.push_status()

    async def remove_push(self) -> None:
        await self.boundaries.remove_push()

    async def notification_settings(self) -> NotificationSettings:
        """Time zone, quiet hours (pushes wait until they end) and, for coaches, urgent bypass."""
        return await self.api.notification_settings()

    async def set_notification_settings(
        self, settings: NotificationSettings
    ) -> NotificationSettings:
        """Replace the settings whole; ``update_notification_settings`` changes single ones."""
        return await self.api.set_notification_settings(settings)

    async def update_notification_settings(
        self,
        *,
        time_zone: str | Keep = KEEP,
        quiet_hours: QuietHoursChange = KEEP,
        urgent_bypass: bool | Keep = KEEP,
        urgent_while_paused: bool | Keep = KEEP,
    ) -> NotificationSettings:
        """Change what is given: ``quiet_hours=("21:00", "08:00")`` or None for none."""
        return await self.boundaries.update_notification_settings(
            time_zone=time_zone,
            quiet_hours=quiet_hours,
            urgent_bypass=urgent_bypass,
            urgent_while_paused=urgent_while_paused,
        )

    async def set_availability(self, availability: Availability) -> CoachAvailability:
        """A coach's weekly hours, response time, away message and away period."""
        return await self.boundaries.set_availability(availability)

    async def coach_availability(self, account_id: str) -> CoachAvailability:
        """A coach's availability (own, or a connected client's coach) with ``available_now``
        and ``next_available_at``."""
        return await self.api.availability(account_id)

    async def reply_expectation(self, conversation_id: str, *, time_zone: str | None = None) -> str:
        """One calm line to show before composing, e.g. "Kim usually replies within 24 hours;
        next available Monday 09:00." (in ``time_zone``, else the client's). A ``CoachAway``
        event after a send carries the same line."""
        return await self.boundaries.reply_expectation(conversation_id, time_zone=time_zone)
