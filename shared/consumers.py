"""Event consumption: decode the shared event union and dispatch by type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog

from shared.bus import Delivery
from shared.events import Event, decode_event

log = structlog.get_logger(__name__)

EventHandler = Callable[[Any], Awaitable[None]]


def event_dispatcher(handlers: Mapping[str, EventHandler]) -> Callable[[Delivery], Awaitable[None]]:
    """A bus handler: malformed events dead-letter (ValidationError), unknown types are acked."""

    async def dispatch(delivery: Delivery) -> None:
        event: Event = decode_event(delivery.body)
        handler = handlers.get(event.type)
        if handler is None:
            log.debug("event_ignored", type=event.type)
            return
        await handler(event)
        log.info("event_handled", type=event.type, event_id=event.event_id)

    return dispatch
