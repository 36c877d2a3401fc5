"""Event consumption: a service's handler map is both its bindings and its dispatch table.

So adding an event is two edits: its model (`shared/events.py`) and the handler map of each
service that consumes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog

from shared.bus import Bus, Delivery
from shared.events import EVENT_TYPES, Event, decode_events
from shared.logging import correlation

log = structlog.get_logger(__name__)

EventHandler = Callable[[Any], Awaitable[None]]


def event_dispatcher(handlers: Mapping[str, EventHandler]) -> Callable[[Delivery], Awaitable[None]]:
    """A bus handler: malformed events dead-letter (ValidationError), unknown types are acked.

    A batch (several events in one AMQP message, `shared.events.encode_events`) is handled one
    event after another, each under its own correlation id; a failure retries the whole batch,
    which every handler allows (handlers are idempotent: the bus may redeliver any event)."""

    async def dispatch(delivery: Delivery) -> None:
        events: list[Event] = decode_events(delivery.body)
        if len(events) == 1:
            await _handle(events[0])
            return
        for event in events:
            with correlation(event.correlation_id):
                await _handle(event)

    async def _handle(event: Event) -> None:
        handler = handlers.get(event.type)
        if handler is None:
            log.debug("event_ignored", type=event.type)
            return
        await handler(event)
        log.info("event_handled", type=event.type, event_id=event.event_id)

    return dispatch


async def consume_events(
    bus: Bus, service: str, handlers: Mapping[str, EventHandler], *, prefetch: int = 32
) -> None:
    """Bind the service's events queue to exactly the handled types, then consume it."""
    unknown = sorted(set(handlers) - EVENT_TYPES)
    if unknown:
        raise ValueError(f"no such event types: {unknown}")
    events = bus.topology.events
    await bus.consume(
        bus.topology.events_queue(service),
        event_dispatcher(handlers),
        prefetch=prefetch,
        bindings=[(events, event_type) for event_type in sorted(handlers)],
    )
