"""Coach availability over RPC: set it, read it with whether and when the coach is available.

Both routes are `shared.availability_contracts`; a request that fails validation is answered
with the error code `invalid_field` and the fields it names (`shared.notify_contracts`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from services.notification.availability import hours
from services.notification.availability.repository import AvailabilityRepository
from shared.availability_contracts import (
    AVAILABILITY_GET,
    AVAILABILITY_PUT,
    Availability,
    AvailabilityPut,
    AvailabilityQuery,
    AvailabilityReply,
)
from shared.events import utcnow
from shared.rpc import RpcHandler

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


class AvailabilityService:
    def __init__(self, *, repository: AvailabilityRepository, clock: Clock = utcnow) -> None:
        self._repo = repository
        self._clock = clock

    async def put(self, request: AvailabilityPut) -> AvailabilityReply:
        await self._repo.put(request.account_id, request.availability)
        log.info("availability_set", account_id=request.account_id)
        return self._reply(request.availability)

    async def get(self, query: AvailabilityQuery) -> AvailabilityReply:
        return self._reply(await self._repo.get(query.account_id))

    async def status(
        self, account_id: str, at: datetime
    ) -> tuple[Availability, hours.Status] | None:
        """The coach's availability and status at `at`; None if none was ever set (then the
        coach is always available)."""
        availability = await self._repo.get(account_id)
        if availability is None:
            return None
        return availability, hours.status(hours.schedule_of(availability), at)

    def routes(self) -> dict[str, RpcHandler]:
        return dict(
            [
                AVAILABILITY_PUT.serve_checked(self.put),
                AVAILABILITY_GET.serve_checked(self.get),
            ]
        )

    def _reply(self, availability: Availability | None) -> AvailabilityReply:
        schedule = None if availability is None else hours.schedule_of(availability)
        now = hours.status(schedule, self._clock())
        return AvailabilityReply(
            availability=availability,
            available_now=now.available_now,
            next_available_at=now.next_available_at,
        )
