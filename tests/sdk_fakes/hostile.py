"""What a malicious gateway can do with its own data: invent devices, swap keys, plant messages.

The fake's routes stay honest; these helpers edit its state the way a compromised
server (or its operator) could, so SDK tests can check that the receiver refuses.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from haven_client import DeviceKeys
from haven_crypto.envelope import seal
from tests.sdk_fakes.state import Device, FakeState, Stored, new_id, now


def forge_device(
    state: FakeState,
    account_id: str,
    *,
    revoked_at: datetime | None = None,
    hidden: bool = True,
) -> tuple[Device, DeviceKeys]:
    """A device the server invents for ``account_id`` with keys it holds itself.

    Its kx key is properly signed for the account's handle (the attacker owns the
    identity key), so only the device's absence from the listings gives it away."""
    keys = DeviceKeys.generate()
    handle = state.accounts[account_id].handle
    device = Device(
        new_id("dev"),
        account_id,
        "forged",
        keys.identity_public,
        keys.kx_public,
        keys.kx_signature(handle),
        now(),
        revoked_at,
    )
    state.devices[device.device_id] = device
    if hidden:
        state.hidden_devices.add(device.device_id)
    return device, keys


def swap_identity(state: FakeState, device_id: str) -> DeviceKeys:
    """Give an existing device id new keys (the gateway never re-keys a device id)."""
    device = state.devices[device_id]
    keys = DeviceKeys.generate()
    device.identity_key, device.kx_key = keys.identity_public, keys.kx_public
    device.kx_signature = keys.kx_signature(state.accounts[device.account_id].handle)
    return keys


def plant_message(
    state: FakeState,
    conversation_id: str,
    sender: Device,
    keys: DeviceKeys,
    body: str,
    *,
    server_ts: datetime | None = None,
) -> Stored:
    """A message sealed and signed with ``keys`` for every listed device, stored as if sent."""
    conversation = state.conversations[conversation_id]
    recipients = {
        d.device_id: d.kx_key for a in conversation.participants for d in state.active_devices(a)
    }
    recipients[sender.device_id] = keys.kx_public
    message_id = str(uuid.uuid4())
    wire = seal(
        json.dumps({"type": "text", "body": body, "sent_at": 0}).encode(),
        conversation_id=conversation_id,
        message_id=message_id,
        sender_device_id=sender.device_id,
        identity=keys.identity,
        kx=keys.kx,
        recipients=recipients,
        urgent=False,
    ).to_wire()
    stored_list = state.messages[conversation_id]
    stored = Stored(
        message_id,
        conversation_id,
        (stored_list[-1].seq if stored_list else 0) + 1,
        sender.account_id,
        sender.device_id,
        server_ts or now(),
        False,
        wire,
        wire["signature"],
    )
    stored_list.append(stored)
    return stored
