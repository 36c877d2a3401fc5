"""Notifications and a coach's boundaries: this device's push gateway, the account's quiet
hours, a coach's availability, and what a client may expect of a reply.

Nothing here logs a push URL, its host, a name or a coach's text: only kinds and ids.
"""

from __future__ import annotations

import enum
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from haven_client.api import HavenApi
from haven_client.conversations import Conversations
from haven_client.errors import InvalidSetting, NoCoach, NotLoggedIn
from haven_client.events import CoachAway
from haven_client.expectations import reply_expectation_line, zone
from haven_client.keystore import Keystore, StoredParticipant
from haven_client.models import (
    Availability,
    CoachAvailability,
    NotificationSettings,
    PushStatus,
    QuietHours,
)

log = logging.getLogger("haven_client.boundaries")
PUSH_SECRET_LENGTH = (32, 256)


def new_push_secret() -> str:
    """A fresh push secret (256 random bits, 43 URL-safe characters) for the app's relay."""
    return secrets.token_urlsafe(32)


def check_push_target(url: str, secret: str) -> None:
    """Refuse, before anything is sent, a URL carrying credentials or a secret of the wrong
    length; the gateway checks the rest (https, its allowlist, the resolved address)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidSetting("the push URL is not a URL") from exc
    if parts.scheme.lower() not in ("https", "http") or not parts.hostname:
        raise InvalidSetting("the push URL must look like https://host/path")
    if parts.username is not None or parts.password is not None:
        raise InvalidSetting("the push URL must not carry credentials; the secret signs pushes")
    low, high = PUSH_SECRET_LENGTH
    if not low <= len(secret) <= high:
        raise InvalidSetting(f"the push secret must be {low} to {high} characters")


class Keep(enum.Enum):
    """``update_notification_settings``: leave this setting as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP
QuietHoursChange: TypeAlias = QuietHours | tuple[str, str] | Keep | None


class Boundaries:
    def __init__(
        self,
        api: HavenApi,
        store: Keystore,
        conversations: Conversations,
        *,
        time_zone: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._api = api
        self._store = store
        self._conversations = conversations
        self._where = zone(time_zone)
        self._clock = clock

    # --- push ------------------------------------------------------------------------------

    async def set_push(self, url: str, secret: str) -> PushStatus:
        check_push_target(url, secret)
        return await self._api.set_push(self._device_id(), url, secret)

    async def push_status(self) -> PushStatus:
        return await self._api.push(self._device_id())

    async def remove_push(self) -> None:
        await self._api.remove_push(self._device_id())

    def _device_id(self) -> str:
        device_id = self._store.state.device_id
        if device_id is None:
            raise NotLoggedIn("this device is not registered: log in first")
        return device_id

    # --- notification settings --------------------------------------------------------------

    async def update_notification_settings(
        self,
        *,
        time_zone: str | Keep = KEEP,
        quiet_hours: QuietHoursChange = KEEP,
        urgent_bypass: bool | Keep = KEEP,
        urgent_while_paused: bool | Keep = KEEP,
    ) -> NotificationSettings:
        """Change only what is given (the endpoint replaces the whole settings)."""
        changes: dict[str, Any] = {}
        if not isinstance(time_zone, Keep):
            changes["time_zone"] = time_zone
        if isinstance(quiet_hours, tuple):
            changes["quiet_hours"] = QuietHours(start=quiet_hours[0], end=quiet_hours[1])
        elif not isinstance(quiet_hours, Keep):
            changes["quiet_hours"] = quiet_hours
        if not isinstance(urgent_bypass, Keep):
            changes["urgent_bypass"] = urgent_bypass
        if not isinstance(urgent_while_paused, Keep):
            changes["urgent_while_paused"] = urgent_while_paused
        current = await self._api.notification_settings()
        return await self._api.set_notification_settings(current.model_copy(update=changes))

    # --- availability and what to expect -------------------------------------------------------

    async def set_availability(self, availability: Availability) -> CoachAvailability:
        return await self._api.set_availability(availability)

    async def reply_expectation(self, conversation_id: str, *, time_zone: str | None = None) -> str:
        coach = await self.coach_of(conversation_id)
        availability = await self._api.availability(coach.account_id)
        return self.expectation(coach, availability, time_zone=time_zone)

    def expectation(
        self,
        coach: StoredParticipant,
        availability: CoachAvailability,
        *,
        time_zone: str | None = None,
    ) -> str:
        """The line for an availability already fetched (the backup contact only while away)."""
        now = self._clock()
        away = None if availability.available_now else availability.away_at(now)
        return reply_expectation_line(
            _name(coach),
            response_time_hours=availability.response_time_hours,
            available_now=availability.available_now,
            next_available_at=availability.next_available_at,
            backup_contact=None if away is None else away.backup_contact,
            now=now,
            where=self._where if time_zone is None else zone(time_zone),
        )

    async def coach_of(self, conversation_id: str) -> StoredParticipant:
        """The conversation's coach, from this device's own record of it (a record without
        roles: a client's one counterpart)."""
        conversation = await self._conversations.get(conversation_id)
        me = self._store.state.account
        others = [
            p for p in conversation.participants if me is None or p.account_id != me.account_id
        ]
        coaches = [p for p in others if p.role == "coach"]
        if not coaches and me is not None and me.role == "client" and len(others) == 1:
            coaches = [p for p in others if not p.role]
        if not coaches:
            raise NoCoach(f"conversation {conversation_id} has no coach to wait for")
        return coaches[0]

    async def coach_away(self, frame: dict[str, Any]) -> CoachAway:
        """The event for a ``coach_away`` frame, with the same line ``reply_expectation`` gives."""
        conversation_id = frame["conversation_id"]
        if not isinstance(conversation_id, str):
            raise TypeError("conversation_id must be a string")
        coach = await self.coach_of(conversation_id)
        hours, backup = _int(frame.get("response_time_hours")), _text(frame.get("backup_contact"))
        next_at = _instant(frame.get("next_available_at"))
        line = reply_expectation_line(
            _name(coach),
            response_time_hours=hours,
            available_now=False,
            next_available_at=next_at,
            backup_contact=backup,
            now=self._clock(),
            where=self._where,
        )
        return CoachAway(
            conversation_id=conversation_id,
            coach_account_id=coach.account_id,
            away_message=_text(frame.get("away_message")),
            response_time_hours=hours,
            next_available_at=next_at,
            backup_contact=backup,
            reply_expectation=line,
        )


def _name(coach: StoredParticipant) -> str:
    return coach.display_name or coach.handle


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _instant(value: object) -> datetime | None:
    """An ISO time as UTC; anything else is None ("not available for now"), logged by kind."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        log.warning("ws_frame_malformed type=coach_away field=next_available_at")
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
