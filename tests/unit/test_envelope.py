"""haven_crypto.envelope: round trips, every receiver refusal, and the strict wire format."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from nacl.public import Box, PublicKey

from haven_crypto.crypto import (
    BadSignatureError,
    CryptoError,
    EnvelopeError,
    b64e,
)
from haven_crypto.envelope import (
    WIRE_FIELDS,
    Envelope,
    seal,
    signature_input,
    verify_envelope,
)
from services.gateway.model.schemas import ENVELOPE_SCHEMA
from shared.wire import WireEnvelope
from tests.unit.crypto_support import (
    CONVERSATION,
    MESSAGE_ID,
    PAYLOAD,
    Device,
    flip,
    open_for,
    seal_for,
    three_devices,
)


@pytest.fixture
def devices() -> list[Device]:
    return three_devices()


def test_round_trip_opens_for_all_three_devices_including_the_sender(
    devices: list[Device],
) -> None:
    envelope = seal_for(devices)
    assert len(envelope.keys) == 3
    assert all(len(box) == 72 for box in envelope.keys.values())
    verify_envelope(CONVERSATION, envelope, devices[0].identity_public)
    for receiver in range(3):
        assert open_for(envelope, devices, receiver) == PAYLOAD
    assert Envelope.from_wire(json.loads(json.dumps(envelope.to_wire()))) == envelope


def test_seal_uses_fresh_key_and_nonces_each_time(devices: list[Device]) -> None:
    first, second = seal_for(devices), seal_for(devices)
    assert first.nonce != second.nonce
    assert first.commitment != second.commitment
    assert first.keys["dev-coach"][:24] != second.keys["dev-coach"][:24]


def _resign(envelope: Envelope, sender: Device, conversation: str = CONVERSATION) -> Envelope:
    signature = sender.identity.sign(signature_input(conversation, envelope)).signature
    return dataclasses.replace(envelope, signature=signature)


def _with_key(envelope: Envelope, device_id: str, box: bytes) -> Envelope:
    return dataclasses.replace(envelope, keys={**envelope.keys, device_id: box})


TAMPERINGS: dict[str, Callable[[Envelope], Envelope]] = {
    "ciphertext_byte": lambda e: dataclasses.replace(e, ciphertext=flip(e.ciphertext, 3)),
    "tag_byte": lambda e: dataclasses.replace(e, ciphertext=flip(e.ciphertext, -1)),
    "nonce_byte": lambda e: dataclasses.replace(e, nonce=flip(e.nonce, 5)),
    "own_keys_entry": lambda e: _with_key(
        e, "dev_client_phone", flip(e.keys["dev_client_phone"], 40)
    ),
    "other_keys_entry": lambda e: _with_key(e, "dev_client_pc", flip(e.keys["dev_client_pc"], 40)),
    "added_keys_entry": lambda e: _with_key(e, "dev_intruder", e.keys["dev_client_pc"]),
    "signature_byte": lambda e: dataclasses.replace(e, signature=flip(e.signature, 10)),
    "commitment_byte": lambda e: dataclasses.replace(e, commitment=flip(e.commitment, 0)),
    "urgent_flipped": lambda e: dataclasses.replace(e, urgent=not e.urgent),
    "message_id": lambda e: dataclasses.replace(
        e, message_id="3b241101-e2bb-4255-8caf-4136c566a963"
    ),
    "sender_device_id": lambda e: dataclasses.replace(e, sender_device_id="dev_client_pc"),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_receiver_and_gateway_refuse_tampered_envelope(
    devices: list[Device], tamper: Callable[[Envelope], Envelope]
) -> None:
    tampered = tamper(seal_for(devices))
    with pytest.raises(BadSignatureError):
        verify_envelope(CONVERSATION, tampered, devices[0].identity_public)
    with pytest.raises(EnvelopeError):
        open_for(tampered, devices)


def test_rejects_envelope_opened_under_another_conversation_id(devices: list[Device]) -> None:
    envelope = seal_for(devices)
    with pytest.raises(BadSignatureError):
        verify_envelope("conv_other", envelope, devices[0].identity_public)
    with pytest.raises(EnvelopeError, match="does not verify"):
        open_for(envelope, devices, conversation_id="conv_other")


def test_aad_binds_conversation_even_with_a_signature_made_for_it(devices: list[Device]) -> None:
    resigned = _resign(seal_for(devices), devices[0], "conv_other")
    with pytest.raises(EnvelopeError, match="ciphertext does not authenticate"):
        open_for(resigned, devices, conversation_id="conv_other")


def test_rejects_envelope_signed_by_another_device(devices: list[Device]) -> None:
    envelope = _resign(seal_for(devices), devices[2])
    with pytest.raises(BadSignatureError):
        verify_envelope(CONVERSATION, envelope, devices[0].identity_public)
    with pytest.raises(EnvelopeError, match="does not verify"):
        open_for(envelope, devices)


def test_rejects_unknown_alg(devices: list[Device]) -> None:
    envelope = dataclasses.replace(seal_for(devices), alg="haven-v2")
    with pytest.raises(BadSignatureError, match="unsupported alg"):
        verify_envelope(CONVERSATION, envelope, devices[0].identity_public)
    with pytest.raises(EnvelopeError, match="unsupported alg"):
        open_for(envelope, devices)


def test_rejects_envelope_without_own_device(devices: list[Device]) -> None:
    keys = {d: box for d, box in seal_for(devices).keys.items() if d != "dev_client_phone"}
    envelope = _resign(dataclasses.replace(seal_for(devices), keys=keys), devices[0])
    verify_envelope(CONVERSATION, envelope, devices[0].identity_public)
    with pytest.raises(EnvelopeError, match="not among the recipients"):
        open_for(envelope, devices)


def test_urgent_flag_is_signed(devices: list[Device]) -> None:
    urgent = seal_for(devices, urgent=True)
    verify_envelope(CONVERSATION, urgent, devices[0].identity_public)
    assert open_for(urgent, devices) == PAYLOAD
    assert signature_input(CONVERSATION, urgent)[-1] == 1
    downgraded = dataclasses.replace(urgent, urgent=False)
    assert signature_input(CONVERSATION, downgraded)[-1] == 0
    with pytest.raises(BadSignatureError):
        verify_envelope(CONVERSATION, downgraded, devices[0].identity_public)


def test_rejects_invisible_salamander_with_other_key_for_one_device(
    devices: list[Device],
) -> None:
    """A sender wraps a different content key for one device and signs the result."""
    sender, victim = devices[0], devices[1]
    envelope = seal_for(devices)
    other_key = os.urandom(32)
    box = bytes(Box(sender.kx, PublicKey(victim.kx_public)).encrypt(other_key))
    forged = _resign(_with_key(envelope, victim.device_id, box), sender)
    verify_envelope(CONVERSATION, forged, sender.identity_public)  # the gateway cannot tell
    assert open_for(forged, devices, receiver=2) == PAYLOAD
    with pytest.raises(EnvelopeError, match="commitment") as caught:
        open_for(forged, devices, receiver=1)
    assert caught.value.field == "commitment"


def test_rejects_key_box_from_another_sender_kx(devices: list[Device]) -> None:
    with pytest.raises(EnvelopeError, match="key box does not open"):
        open_for(seal_for(devices), devices, sender_kx_public=devices[2].kx_public)


def test_seal_requires_the_sending_device_among_recipients(devices: list[Device]) -> None:
    with pytest.raises(CryptoError, match="sending device"):
        seal(
            PAYLOAD,
            conversation_id=CONVERSATION,
            message_id=MESSAGE_ID,
            sender_device_id="dev-elsewhere",
            identity=devices[0].identity,
            kx=devices[0].kx,
            recipients={d.device_id: d.kx_public for d in devices},
            urgent=False,
        )


@pytest.mark.parametrize(
    "message_id",
    ["3B241101-E2BB-4255-8CAF-4136C566A962", "3b241101e2bb42558caf4136c566a962", "not-a-uuid"],
)
def test_seal_refuses_non_canonical_message_id(devices: list[Device], message_id: str) -> None:
    with pytest.raises(EnvelopeError, match="message_id"):
        seal_for(devices, message_id=message_id)


# --- wire format -------------------------------------------------------------------------


def _wire(devices: list[Device]) -> dict[str, Any]:
    return seal_for(devices).to_wire()


WIRE_BREAKERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "missing_commitment": lambda w: w.pop("commitment"),
    "missing_signature": lambda w: w.pop("signature"),
    "unknown_field": lambda w: w.update(extra="x"),
    "urgent_as_string": lambda w: w.update(urgent="false"),
    "urgent_as_int": lambda w: w.update(urgent=0),
    "nonce_padded": lambda w: w.update(nonce=w["nonce"] + "="),
    "nonce_short": lambda w: w.update(nonce=b64e(os.urandom(23))),
    "ciphertext_standard_alphabet": lambda w: w.update(ciphertext="+/" + w["ciphertext"][2:]),
    "ciphertext_too_short": lambda w: w.update(ciphertext=b64e(b"x" * 15)),
    "ciphertext_not_string": lambda w: w.update(ciphertext=123),
    "keys_entry_short": lambda w: w["keys"].update({"dev-coach": b64e(os.urandom(71))}),
    "keys_empty": lambda w: w.update(keys={}),
    "keys_list": lambda w: w.update(keys=[]),
    "keys_bad_device_id": lambda w: w["keys"].update({"dev.coach": w["keys"]["dev-coach"]}),
    "signature_long": lambda w: w.update(signature=b64e(os.urandom(65))),
    "commitment_short": lambda w: w.update(commitment=b64e(os.urandom(31))),
    "message_id_upper": lambda w: w.update(message_id=w["message_id"].upper()),
    "sender_device_id_nul": lambda w: w.update(sender_device_id="dev\x00x"),
    "alg_not_string": lambda w: w.update(alg=1),
}


@pytest.mark.parametrize("breaker", WIRE_BREAKERS.values(), ids=WIRE_BREAKERS.keys())
def test_from_wire_is_strict(
    devices: list[Device], breaker: Callable[[dict[str, Any]], None]
) -> None:
    wire = _wire(devices)
    breaker(wire)
    with pytest.raises(EnvelopeError) as caught:
        Envelope.from_wire(wire)
    assert caught.value.field


def test_from_wire_refuses_non_object() -> None:
    with pytest.raises(EnvelopeError):
        Envelope.from_wire([])  # type: ignore[arg-type]


def test_wire_shape_is_api_envelope_plus_commitment(devices: list[Device]) -> None:
    wire = _wire(devices)
    assert set(wire) == {
        "message_id", "sender_device_id", "alg", "urgent", "nonce", "ciphertext", "keys",
        "commitment", "signature",
    }  # fmt: skip
    assert wire["alg"] == "haven-v1"
    assert wire["urgent"] is False
    assert all(isinstance(v, str) and "=" not in v for v in wire["keys"].values())


def test_every_description_of_the_envelope_names_the_same_fields_in_wire_order() -> None:
    assert tuple(WireEnvelope.model_fields) == WIRE_FIELDS
    assert tuple(ENVELOPE_SCHEMA["required"]) == WIRE_FIELDS
    assert tuple(ENVELOPE_SCHEMA["properties"]) == WIRE_FIELDS
    assert ENVELOPE_SCHEMA["properties"]["alg"]["const"] == "haven-v1"
