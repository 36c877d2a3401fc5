"""Stored messages go straight to their recipients' sockets; notification hears who was offline.

Once a batch is stored, messaging publishes each recipient device's `message` frames to
`haven.deliveries` itself (`device.<id>`, mandatory; one AMQP message per device and batch,
its frames in seq order: `shared.deliveries.publish_deliveries`), where the gateway replica
holding the device's socket bound that key. Then the batch's `message.stored` events go out in
one AMQP message (`shared.events.encode_events`), without the envelopes (nobody downstream
needs the ciphertext again) but naming, per message, the recipient devices no gateway held:
notification owes those a push, and checks the coach's boundaries (coach-away notices).

The delivery ids are those notification used to derive (`delivery_id_for(event_id, device)`),
so a redelivered command re-announces the same deliveries and events. Everything here is
confirmed before the batch's commands are acked; a failure fails the whole announcement and
the pipeline's retry finds the messages stored and announces them again (at-least-once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import structlog

from services.messaging import documents as docs
from services.messaging.service import Stored
from shared.deliveries import DeviceDelivery, delivery_id_for, is_device_id
from shared.events import MessageStored
from shared.frames import MessageFrame
from shared.mongo import Document
from shared.recipients import device_recipients

log = structlog.get_logger(__name__)

# One device's deliveries in order; per delivery, whether a gateway held the device.
DeliverBatch = Callable[[str, Sequence[DeviceDelivery]], Awaitable[list[bool]]]
# The events of one type, confirmed (one AMQP message where they fit).
PublishEvents = Callable[[Sequence[MessageStored]], Awaitable[None]]


def recipients(doc: Document) -> list[str]:
    """The devices a stored message goes to: every wrapped key's device but the sender's (a
    backup key is a recipient with no socket and no push: nothing is delivered to it)."""
    sender = doc["sender_device_id"]
    found = []
    for device_id in device_recipients(doc["recipient_device_ids"]):
        if device_id == sender:
            continue
        if not is_device_id(device_id):
            log.warning("delivery_skipped_invalid_device_id")
            continue
        found.append(device_id)
    return found


class Announcer:
    """`MessagingService`'s `announce`: deliveries first, then the events that name the
    offline devices."""

    def __init__(self, *, deliver: DeliverBatch, publish_events: PublishEvents) -> None:
        self._deliver = deliver
        self._publish_events = publish_events

    async def __call__(self, stored: Sequence[Stored]) -> None:
        per_device: dict[str, list[DeviceDelivery]] = {}
        for item in sorted(stored, key=lambda s: (s.doc["conversation_id"], s.doc["seq"])):
            doc = item.doc
            event_id = docs.stored_event_id(doc)
            frame = MessageFrame(message=docs.history_item(doc))
            for device_id in recipients(doc):
                per_device.setdefault(device_id, []).append(
                    DeviceDelivery(
                        delivery_id=delivery_id_for(event_id, device_id),
                        device_id=device_id,
                        kind="frame",
                        frame=frame,
                        ack_message_id=doc["message_id"],
                    )
                )
        devices = list(per_device)
        outcomes = await asyncio.gather(*(self._deliver(d, per_device[d]) for d in devices))
        unroutable: set[tuple[str, str]] = set()  # (device, message id)
        for device_id, routed in zip(devices, outcomes, strict=True):
            for delivery, ok in zip(per_device[device_id], routed, strict=True):
                if not ok:
                    assert delivery.ack_message_id is not None
                    unroutable.add((device_id, delivery.ack_message_id))
        routed_count = sum(ok for routed in outcomes for ok in routed)
        log.info(
            "deliveries_published",
            frame="message",
            routed=routed_count,
            returned=sum(len(per_device[d]) for d in devices) - routed_count,
        )
        events = [
            docs.stored_event(
                item.doc,
                item.correlation_id,
                unroutable=[
                    d for d in recipients(item.doc) if (d, item.doc["message_id"]) in unroutable
                ],
            )
            for item in stored
        ]
        await self._publish_events(events)
