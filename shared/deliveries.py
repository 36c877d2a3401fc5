"""Real-time deliveries on `haven.deliveries`: the contract between notification and gateways.

notification publishes one `DeviceDelivery` per recipient device with routing key
`device.<device_id>` (mandatory): RabbitMQ routes it to whichever gateway replica bound that
key for the device's open socket, or returns it when none did (the device is offline). The
gateway's side (its queue, bindings and controls) is `services/gateway/sockets/router.py`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal, Self

from pydantic import Field, model_validator

from shared.bus import Bus
from shared.errors import UnroutableError
from shared.events import Schema
from shared.frames import MessageFrame, ServerFrame

DEVICE_ID_PATTERN = r"[A-Za-z0-9_-]{1,128}"
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)

ControlAction = Literal["replace", "revoke", "reauth", "signout"]


class Control(Schema):
    """Close a device's sockets on whichever replica holds them.

    `replace`: close every socket of the device except `socket_id` (the newer one) with 4409.
    `revoke`: close every socket of the device with 4403 (`socket_id` is not used).
    `signout`: like `revoke`, but after the frames routed to the socket before it are written
    (the `account` frame that says why its sessions ended).
    `reauth`: close the device's sockets opened before `socket_id` (a time-ordered cut-off)
    with 4401: their session ended (a login resumed the device), so they must authenticate
    again; a socket the resumed session opened meanwhile stays.
    """

    action: ControlAction
    socket_id: str | None = None

    @model_validator(mode="after")
    def _replace_names_the_survivor(self) -> Self:
        if self.action in ("replace", "reauth") and not self.socket_id:
            raise ValueError(f"{self.action} needs a socket_id")
        return self


class DeviceDelivery(Schema):
    """The body of one delivery: a server→client WebSocket frame, or a socket control."""

    delivery_id: str = Field(min_length=1, max_length=128)
    device_id: str = Field(pattern=f"^{DEVICE_ID_PATTERN}$")
    kind: Literal["frame", "control"]
    frame: ServerFrame | None = None
    control: Control | None = None
    # Set on `message` frames: the gateway expects the device's ack for this id within 10 s.
    ack_message_id: str | None = None

    @model_validator(mode="after")
    def _payload_matches_kind(self) -> Self:
        if self.kind == "frame":
            if self.frame is None or self.control is not None:
                raise ValueError("a frame delivery carries a frame and no control")
            if self.ack_message_id and not isinstance(self.frame, MessageFrame):
                raise ValueError("only a message frame expects an ack")
        elif self.control is None or self.frame is not None or self.ack_message_id:
            raise ValueError("a control delivery carries a control and nothing else")
        return self


def is_device_id(value: str) -> bool:
    return _DEVICE_ID.fullmatch(value) is not None


def routing_key(device_id: str) -> str:
    """`device.<id>`; anything that could act as a topic wildcard (`*`, `#`, `.`) is refused."""
    if not is_device_id(device_id):
        raise ValueError("not a device id")
    return f"device.{device_id}"


def delivery_id_for(event_id: str, device_id: str) -> str:
    """Deterministic, so a redelivered event republishes the same delivery ids."""
    key = f"delivery\x00{event_id}\x00{device_id}".encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()


async def publish_delivery(bus: Bus, delivery: DeviceDelivery, *, mandatory: bool = True) -> bool:
    """True once a gateway queue holds it; False when returned (no gateway holds the device).

    Controls go out with `mandatory=False`: a device that no replica holds has nothing to close.
    """
    try:
        await bus.publish(
            bus.topology.deliveries,
            routing_key(delivery.device_id),
            delivery.model_dump_json().encode(),
            message_id=delivery.delivery_id,
            message_type=f"delivery.{delivery.kind}",
            mandatory=mandatory,
            persistent=False,  # transient: the durable record is the stored message, in messaging
        )
    except UnroutableError:
        return False
    return True
