"""shared.deliveries: the delivery body, its routing key and deterministic ids; new events."""

from __future__ import annotations

from datetime import UTC, datetime

import pydantic
import pytest

from services.notification import frames
from services.notification.consumers import handlers
from services.notification.service import NotificationService
from shared.deliveries import Control, DeviceDelivery, delivery_id_for, routing_key
from shared.events import (
    DeliveryFailed,
    DeviceUpdated,
    StoredMessageData,
    decode_event,
)

ITEM = {
    "message_id": "m1",
    "conversation_id": "c1",
    "seq": 1,
    "sender_account_id": "a1",
    "sender_device_id": "d1",
    "server_ts": "2026-01-01T00:00:00Z",
    "urgent": False,
}


def test_frame_delivery_round_trips_through_json() -> None:
    delivery = DeviceDelivery(
        delivery_id="d1",
        device_id="dev_A-1",
        kind="frame",
        frame={"type": "message", "message": ITEM},
        ack_message_id="m1",
    )
    assert DeviceDelivery.model_validate_json(delivery.model_dump_json()) == delivery


def test_control_delivery_round_trips_and_ignores_unknown_fields() -> None:
    body = (
        '{"delivery_id":"c1","device_id":"dev1","kind":"control",'
        '"control":{"action":"replace","socket_id":"s2"},"added_later":1}'
    )
    delivery = DeviceDelivery.model_validate_json(body)
    assert delivery.control == Control(action="replace", socket_id="s2")
    assert delivery.frame is None


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "frame"},
        {"kind": "frame", "frame": {"no_type": 1}},
        {"kind": "frame", "frame": {"type": "resync"}, "control": {"action": "revoke"}},
        {"kind": "control"},
        {"kind": "control", "control": {"action": "revoke"}, "frame": {"type": "resync"}},
        {"kind": "control", "control": {"action": "revoke"}, "ack_message_id": "m1"},
        {"kind": "control", "control": {"action": "explode"}},
        {"kind": "control", "control": {"action": "replace"}},
        {"kind": "other", "frame": {"type": "resync"}},
    ],
)
def test_rejects_a_payload_that_does_not_match_its_kind(fields: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        DeviceDelivery.model_validate({"delivery_id": "x", "device_id": "dev1", **fields})


@pytest.mark.parametrize("device_id", ["", "a.b", "*", "#", "dev 1", "dev/1", "é", "a" * 129])
def test_device_ids_that_could_widen_a_binding_are_refused(device_id: str) -> None:
    with pytest.raises(ValueError, match="device id"):
        routing_key(device_id)
    with pytest.raises(pydantic.ValidationError):
        DeviceDelivery(delivery_id="x", device_id=device_id, kind="frame", frame={"type": "resync"})


def test_routing_key_names_exactly_one_device() -> None:
    assert routing_key("Dev_1-x") == "device.Dev_1-x"


def test_delivery_id_is_deterministic_per_event_and_device() -> None:
    assert delivery_id_for("e1", "d1") == delivery_id_for("e1", "d1")
    assert delivery_id_for("e1", "d1") != delivery_id_for("e1", "d2")
    assert delivery_id_for("e1", "d1") != delivery_id_for("e2", "d1")
    assert len(delivery_id_for("e1", "d1")) == 32


def test_new_events_decode_and_are_routed_to_notification() -> None:
    updated = decode_event(
        b'{"event_id":"e1","type":"device.updated","data":{"account_id":"a1","device_id":"d1"}}'
    )
    failed = decode_event(
        b'{"event_id":"e2","type":"delivery.failed",'
        b'"data":{"device_id":"d1","conversation_id":"c1","message_id":"m1"}}'
    )
    assert isinstance(updated, DeviceUpdated)
    assert isinstance(failed, DeliveryFailed)
    assert failed.data.message_id == "m1"
    consumed = handlers(NotificationService(repository=None, deliver=None))  # type: ignore[arg-type]
    assert {"device.updated", "delivery.failed"} <= set(consumed)


ENVELOPE = {
    "message_id": "m1",
    "sender_device_id": "d1",
    "alg": "haven-v1",
    "urgent": True,
    "nonce": "Tk9OQ0U",
    "ciphertext": "AAAA",
    "keys": {"d1": "S0VZMQ", "d2": "S0VZMg"},
    "commitment": "Q09NTUlU",
    "signature": "U0lH",
}


def test_message_frame_is_the_history_item_with_utc_iso_time() -> None:
    data = StoredMessageData(
        conversation_id="c1",
        message_id="m1",
        seq=7,
        sender_account_id="a1",
        sender_device_id="d1",
        server_ts=datetime(2026, 5, 1, 12, 30, 0, 125000, tzinfo=UTC),
        urgent=True,
        envelope=ENVELOPE,
        recipient_device_ids=["d1", "d2"],
    )
    assert frames.message(data).wire() == {
        "type": "message",
        "message": {
            "message_id": "m1",
            "conversation_id": "c1",
            "seq": 7,
            "sender_account_id": "a1",
            "sender_device_id": "d1",
            "server_ts": "2026-05-01T12:30:00.125000Z",
            "urgent": True,
            "deleted": False,
            "envelope": ENVELOPE,
        },
    }
