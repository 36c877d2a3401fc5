"""Messaging delivers stored messages itself: one batch per device, then events naming the
offline devices (services/messaging/delivery.py), with a recording broker in place of AMQP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from services.messaging import documents
from services.messaging.delivery import Announcer
from services.messaging.service import Stored
from shared.deliveries import DeviceDelivery, decode_deliveries, delivery_id_for
from shared.errors import UnavailableError
from shared.events import MessageStored, decode_events, encode_events
from shared.frames import MessageFrame
from shared.recipients import new_backup_id
from tests.support.messaging import send_command


@dataclass
class RecordingBroker:
    """Holds the sockets of `online` devices; `partly` routes only a device's first delivery."""

    online: set[str] = field(default_factory=set)
    partly: set[str] = field(default_factory=set)
    batches: list[tuple[str, list[DeviceDelivery]]] = field(default_factory=list)
    events: list[MessageStored] = field(default_factory=list)
    fail: bool = False

    async def deliver(self, device_id: str, deliveries: Sequence[DeviceDelivery]) -> list[bool]:
        if self.fail:
            raise UnavailableError("broker gone")
        self.batches.append((device_id, list(deliveries)))
        if device_id in self.partly:
            return [i == 0 for i in range(len(deliveries))]
        return [device_id in self.online] * len(deliveries)

    async def publish_events(self, events: Sequence[MessageStored]) -> None:
        self.events += events


def stored(seq: int, *, recipients: tuple[str, ...] = ("dev-coach", "dev-client")) -> Stored:
    command = send_command("conv-a", recipients=recipients, correlation_id=f"req-{seq}")
    doc = documents.message_document(command.data, seq, documents.server_now())
    return Stored(doc, command.correlation_id)


async def test_a_batch_goes_to_each_recipient_device_once_in_seq_order() -> None:
    broker = RecordingBroker(online={"dev-coach", "dev-tablet"})
    batch = [stored(2, recipients=("dev-coach", "dev-tablet", "dev-client")), stored(1)]

    await Announcer(deliver=broker.deliver, publish_events=broker.publish_events)(batch)

    assert sorted(device for device, _ in broker.batches) == ["dev-coach", "dev-tablet"]
    [coach] = [deliveries for device, deliveries in broker.batches if device == "dev-coach"]
    frames = [d.frame for d in coach]
    assert all(isinstance(f, MessageFrame) for f in frames)
    assert [f.message.seq for f in frames if isinstance(f, MessageFrame)] == [1, 2]
    first = coach[0]
    event_id = documents.stored_event(batch[1].doc, None).event_id
    assert first.delivery_id == delivery_id_for(event_id, "dev-coach")  # as notification's were
    assert first.ack_message_id == batch[1].doc["message_id"]
    assert isinstance(first.frame, MessageFrame)
    assert first.frame.message.envelope == batch[1].doc["envelope"]


async def test_the_events_name_the_devices_no_gateway_held_and_carry_no_envelope() -> None:
    broker = RecordingBroker(online={"dev-coach"}, partly={"dev-tablet"})
    batch = [
        stored(1, recipients=("dev-coach", "dev-tablet")),
        stored(2, recipients=("dev-tablet",)),
    ]

    await Announcer(deliver=broker.deliver, publish_events=broker.publish_events)(batch)

    assert [e.data.seq for e in broker.events] == [1, 2]
    assert [e.data.unroutable_device_ids for e in broker.events] == [[], ["dev-tablet"]]
    assert all(e.data.envelope is None for e in broker.events)
    assert [e.correlation_id for e in broker.events] == ["req-1", "req-2"]
    # The same event ids as ever: a redelivered command's announcement dedupes downstream.
    assert broker.events[0].event_id == documents.stored_event(batch[0].doc, None).event_id


async def test_no_event_leaves_before_the_deliveries_were_confirmed() -> None:
    broker = RecordingBroker(fail=True)
    with pytest.raises(UnavailableError):
        await Announcer(deliver=broker.deliver, publish_events=broker.publish_events)([stored(1)])
    assert broker.events == []


def test_batches_on_the_wire_decode_to_what_was_sent() -> None:
    events = [documents.stored_event(s.doc, None, unroutable=[]) for s in (stored(1), stored(2))]
    assert decode_events(encode_events(events)) == events
    assert decode_events(encode_events(events[:1])) == events[:1]
    delivery = DeviceDelivery(
        delivery_id="d1",
        device_id="dev-coach",
        kind="frame",
        frame=MessageFrame(message=documents.history_item(stored(1).doc)),
        ack_message_id="m1",
    )
    body = b"[" + b",".join([delivery.model_dump_json().encode()] * 2) + b"]"
    assert decode_deliveries(body) == [delivery, delivery]
    assert decode_deliveries(delivery.model_dump_json().encode()) == [delivery]


async def test_a_backup_key_is_a_recipient_nothing_is_delivered_to_nor_owed() -> None:
    backup = new_backup_id()
    broker = RecordingBroker()
    await Announcer(deliver=broker.deliver, publish_events=broker.publish_events)(
        [stored(1, recipients=("dev-coach", backup))]
    )
    assert [device for device, _ in broker.batches] == ["dev-coach"]
    assert [e.data.unroutable_device_ids for e in broker.events] == [["dev-coach"]]
