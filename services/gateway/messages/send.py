"""The synchronous half of sending: every check the gateway can make, then a confirmed publish."""

from __future__ import annotations

from typing import Any

from pymongo.errors import PyMongoError

from services.gateway.context import Gateway, Principal
from services.gateway.identity.relationships import participant_of, participants
from shared import crypto
from shared.commands import SendData, SendMessage
from shared.envelope import Envelope, verify_envelope
from shared.errors import (
    ApiError,
    Conflict,
    DeviceMismatch,
    Forbidden,
    HavenError,
    PayloadTooLarge,
    SignatureInvalid,
    Unavailable503,
    Unprocessable,
)
from shared.logging import current_correlation_id

MAX_CIPHERTEXT = 64 * 1024


def wants_urgent(raw_envelope: object) -> bool:
    return isinstance(raw_envelope, dict) and raw_envelope.get("urgent") is True


async def send(gw: Gateway, who: Principal, conversation_id: str, raw_envelope: object) -> str:
    """Validate and queue; on any error of an urgent send, attach the crisis resources."""
    try:
        return await _send(gw, who, conversation_id, raw_envelope)
    except ApiError as error:
        if wants_urgent(raw_envelope):
            error.extra["crisis_resources"] = await gw.crisis.current()
        raise
    except (HavenError, PyMongoError) as error:  # broker or database down: still 503, still help
        unavailable = Unavailable503("the message was not queued; try again")
        if wants_urgent(raw_envelope):
            unavailable.extra["crisis_resources"] = await gw.crisis.current()
        raise unavailable from error


async def _send(gw: Gateway, who: Principal, conversation_id: str, raw_envelope: object) -> str:
    envelope = parse_envelope(raw_envelope)
    await gw.limits.check("send", who.account_id, gw.now())
    relationship = await participant_of(gw, who, conversation_id)
    if relationship["status"] != "active":
        raise Conflict("this conversation has ended and is read-only")
    if envelope.sender_device_id != who.device_id:
        raise Forbidden("sender_device_id must be the sending device")
    if envelope.urgent and who.role != "client":
        raise Unprocessable("only clients can mark a message urgent", field="envelope.urgent")
    members = participants(relationship)
    devices = {d["_id"]: d for d in await gw.devices.active_of_many(members)}
    if who.device_id not in devices:
        raise Forbidden("the sending device is not active")
    _check_device_set(envelope, set(devices))
    try:
        verify_envelope(conversation_id, envelope, devices[who.device_id]["identity_key"])
    except crypto.BadSignature as error:
        raise SignatureInvalid("the envelope signature does not verify") from error
    command = SendMessage(
        command_id=f"{conversation_id}:{envelope.message_id}",
        correlation_id=current_correlation_id(),
        data=SendData(
            conversation_id=conversation_id,
            message_id=envelope.message_id,
            sender_account_id=who.account_id,
            sender_device_id=who.device_id,
            urgent=envelope.urgent,
            envelope=envelope.to_wire(),
            participants=members,
        ),
    )
    await publish_command(gw, command)
    return envelope.message_id


def parse_envelope(raw: object) -> Envelope:
    try:
        envelope = Envelope.from_wire(raw)  # type: ignore[arg-type]
    except crypto.EnvelopeError as error:
        field = getattr(error, "field", None)
        name = "envelope" if field in (None, "envelope") else f"envelope.{field}"
        raise Unprocessable(str(error), field=name) from error
    if len(envelope.ciphertext) > MAX_CIPHERTEXT:
        raise PayloadTooLarge("ciphertext is larger than 64 KiB")
    return envelope


def _check_device_set(envelope: Envelope, active: set[str]) -> None:
    named = set(envelope.keys)
    if named != active:
        raise DeviceMismatch(
            "keys must name exactly the active devices of all participants",
            missing_devices=sorted(active - named),
            extra_devices=sorted(named - active),
        )


async def publish_command(gw: Gateway, command: Any) -> None:
    """Durably queued or an Unavailable (503): never a 202 for something not confirmed."""
    await gw.bus.publish(
        gw.bus.topology.commands,
        command.routing_key(gw.settings.command_shards),
        command.model_dump_json().encode(),
        message_id=command.command_id,
        message_type=command.type,
        mandatory=True,
    )
