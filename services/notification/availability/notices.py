"""`coach_away`: a client whose message reaches the coach outside hours (or while away) is told,
kindly and once per unavailable stretch, when to expect an answer.

The stretch is keyed by the instant it began, and the notice is claimed with an atomic insert
of (conversation, stretch): whichever replica handles a message first sends it and then marks
it sent; any other message in the stretch, or the same event once more, sends nothing, except
that event redelivered before the mark (a crash in between), which sends it again with the
same delivery ids. After an opening the next stretch begins anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from services.notification import frames
from services.notification.availability.repository import AvailabilityRepository
from services.notification.availability.service import AvailabilityService, Clock
from services.notification.repository import NotificationRepository
from shared.availability_contracts import Availability
from shared.events import MessageStored, derive_event_id, utcnow
from shared.wire import iso_utc

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Notice:
    """A `coach_away` frame for the client's devices; `notice_id` is its fan-out's event id,
    one per (conversation, stretch), so its delivery ids are stable."""

    notice_id: str
    conversation_id: str
    stretch: str
    client_account_id: str
    frame: frames.Frame


class AwayNotices:
    def __init__(
        self,
        *,
        availability: AvailabilityService,
        notices: AvailabilityRepository,
        relationships: NotificationRepository,
        clock: Clock = utcnow,
    ) -> None:
        self._availability = availability
        self._notices = notices
        self._relationships = relationships
        self._clock = clock

    async def for_message(self, event: MessageStored) -> Notice | None:
        """The notice this stored message owes its sender, if it is the client's and the coach
        is unavailable when it was stored and this stretch has not been announced yet."""
        data = event.data
        relationship = await self._relationships.relationship(data.conversation_id)
        if relationship is None or relationship.status == "ended":
            return None
        if data.sender_account_id != relationship.client_account_id:
            return None
        at = data.server_ts if data.server_ts.tzinfo else data.server_ts.replace(tzinfo=UTC)
        found = await self._availability.status(relationship.coach_account_id, at)
        if found is None or found[1].available_now:
            return None
        availability, status = found
        if status.next_available_at is not None and status.next_available_at <= self._clock():
            return None  # a late event: that stretch is over, the coach is around again
        started = status.stretch_started_at
        key = "always" if started is None else iso_utc(started)  # None: never available yet
        if not await self._notices.claim_notice(data.conversation_id, key, event.event_id):
            return None
        log.info("coach_away_notice", conversation_id=data.conversation_id, stretch=key)
        return Notice(
            notice_id=derive_event_id("coach_away", f"{data.conversation_id}:{key}"),
            conversation_id=data.conversation_id,
            stretch=key,
            client_account_id=relationship.client_account_id,
            frame=coach_away_frame(
                data.conversation_id, availability, at, status.next_available_at
            ),
        )

    async def sent(self, notice: Notice) -> None:
        """The frame went out: a redelivery of its message event must not send it again."""
        await self._notices.notice_sent(notice.conversation_id, notice.stretch)


def coach_away_frame(
    conversation_id: str,
    availability: Availability,
    at: datetime,
    next_available_at: datetime | None,
) -> frames.Frame:
    """During `away`, its message and backup contact; outside hours, the usual away message."""
    away = availability.away
    if away is not None and away.from_ <= at < away.until:
        message, backup = away.message, away.backup_contact
    else:
        message, backup = availability.away_message, None
    return frames.coach_away(
        conversation_id, message, availability.response_time_hours, next_available_at, backup
    )
