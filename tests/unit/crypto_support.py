"""Devices and helpers shared by the crypto and envelope unit tests."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from haven_crypto.envelope import (
    Envelope,
    open_envelope,
    seal,
)

CONVERSATION = "conv_test"


@dataclasses.dataclass(frozen=True)
class Device:
    device_id: str
    identity: SigningKey
    kx: PrivateKey

    @property
    def identity_public(self) -> bytes:
        return bytes(self.identity.verify_key)

    @property
    def kx_public(self) -> bytes:
        return bytes(self.kx.public_key)


def new_device(device_id: str) -> Device:
    return Device(device_id, SigningKey.generate(), PrivateKey.generate())


def three_devices() -> list[Device]:
    """A coach's device and two of the client's, with fresh keys: the sender is the first."""
    return [new_device("dev-coach"), new_device("dev_client_phone"), new_device("dev_client_pc")]


MESSAGE_ID = "3b241101-e2bb-4255-8caf-4136c566a962"
PAYLOAD = json.dumps({"type": "text", "body": "hello ✓", "sent_at": 1795000000}).encode()


def seal_for(
    devices: list[Device], *, urgent: bool = False, message_id: str = MESSAGE_ID
) -> Envelope:
    sender = devices[0]
    return seal(
        PAYLOAD,
        conversation_id=CONVERSATION,
        message_id=message_id,
        sender_device_id=sender.device_id,
        identity=sender.identity,
        kx=sender.kx,
        recipients={d.device_id: d.kx_public for d in devices},
        urgent=urgent,
    )


def open_for(
    envelope: Envelope, devices: list[Device], receiver: int = 1, **overrides: Any
) -> bytes:
    sender, own = devices[0], devices[receiver]
    arguments: dict[str, Any] = {
        "conversation_id": CONVERSATION,
        "own_device_id": own.device_id,
        "own_kx": own.kx,
        "sender_identity_public": sender.identity_public,
        "sender_kx_public": sender.kx_public,
    }
    arguments.update(overrides)
    return open_envelope(envelope, **arguments)


def flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]
