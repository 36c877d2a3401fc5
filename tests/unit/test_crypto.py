"""shared.crypto and shared.envelope: byte-exact vectors, round trips, and every refusal."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from nacl import bindings
from nacl.public import Box, PrivateKey, PublicKey
from nacl.signing import SigningKey

from shared.crypto import (
    ALG,
    BadSignature,
    CryptoError,
    EnvelopeError,
    LowOrderKey,
    b64d,
    b64e,
    check_x25519_public,
    is_low_order_x25519,
    kx_signature_input,
    login_proof_input,
    safety_number,
    sign_kx,
    sign_login_proof,
    verify_kx_signature,
    verify_login_proof,
)
from shared.envelope import (
    Envelope,
    build_aad,
    compute_commitment,
    keys_block,
    open_envelope,
    seal,
    signature_input,
    verify_envelope,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
CONVERSATION = "conv_test"
P = 2**255 - 19


@cache
def vectors() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((VECTORS / "haven-v1.json").read_text(encoding="utf-8"))
    return loaded


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


def _vector_device(device_id: str) -> dict[str, Any]:
    return next(d for d in vectors()["devices"] if d["device_id"] == device_id)


# --- vectors ---------------------------------------------------------------------------


def test_vector_file_is_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("make_vectors", VECTORS / "make_vectors.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == (VECTORS / "haven-v1.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("index", [0, 1, 2])
def test_vector_device_keys_and_kx_signature_reproduce(index: int) -> None:
    device = vectors()["devices"][index]
    identity = SigningKey(_h(device["identity_seed_hex"]))
    kx_public = bytes(PrivateKey(_h(device["kx_private_hex"])).public_key)
    assert bytes(identity.verify_key).hex() == device["identity_public_hex"]
    assert kx_public.hex() == device["kx_public_hex"]
    expected_input = b"haven-kx-v1\x00" + device["handle"].lower().encode() + b"\x00" + kx_public
    assert kx_signature_input(device["handle"], kx_public) == expected_input
    assert expected_input.hex() == device["kx_signature_input_hex"]
    assert sign_kx(identity, device["handle"], kx_public).hex() == device["kx_signature_hex"]
    signature = _h(device["kx_signature_hex"])
    assert verify_kx_signature(bytes(identity.verify_key), device["handle"], kx_public, signature)


def test_vector_login_proof_reproduces() -> None:
    proof = vectors()["login_proof"]
    device = _vector_device(proof["device_id"])
    identity = SigningKey(_h(device["identity_seed_hex"]))
    identity_public, kx_public = _h(device["identity_public_hex"]), _h(device["kx_public_hex"])
    expected = (
        b"haven-login-v1\x00"
        + proof["handle"].lower().encode()
        + b"\x00"
        + str(proof["ts"]).encode()
        + b"\x00"
        + identity_public
        + kx_public
    )
    assert login_proof_input(proof["handle"], proof["ts"], identity_public, kx_public) == expected
    assert expected.hex() == proof["input_hex"]
    signed = sign_login_proof(identity, proof["handle"], proof["ts"], kx_public)
    assert signed.hex() == proof["proof_hex"]
    assert verify_login_proof(identity_public, proof["handle"], proof["ts"], kx_public, signed)


def _independent_intermediates(vector: dict[str, Any]) -> dict[str, bytes]:
    """Rebuild aad, keys_block and sig_input from the spec text and the vector's own bytes."""
    aad = b"\x00".join(
        part.encode()
        for part in (
            ALG,
            vector["conversation_id"],
            vector["message_id"],
            vector["sender_device_id"],
        )
    )
    order = sorted(vector["keys_hex"], key=lambda device: device.encode())
    block = b"".join(d.encode() + b"\x00" + _h(vector["keys_hex"][d]) for d in order)
    commitment = hashlib.blake2b(
        b"haven-v1-commit\x00" + _h(vector["nonce_hex"]),
        digest_size=32,
        key=_h(vector["content_key_hex"]),
    ).digest()
    sig_input = (
        b"haven-v1-sig\x00"
        + aad
        + b"\x00"
        + _h(vector["nonce_hex"])
        + hashlib.sha512(_h(vector["ciphertext_hex"])).digest()
        + hashlib.sha512(block).digest()
        + commitment
        + (b"\x01" if vector["urgent"] else b"\x00")
    )
    return {"aad": aad, "keys_block": block, "commitment": commitment, "sig_input": sig_input}


@pytest.mark.parametrize("index", [0, 1])
def test_vector_envelope_intermediates_match_the_spec_text(index: int) -> None:
    vector = vectors()["envelopes"][index]
    rebuilt = _independent_intermediates(vector)
    for name, value in rebuilt.items():
        assert value.hex() == vector[f"{name}_hex"], name
    assert vector["keys_block_order"] == sorted(vector["keys_hex"], key=str.encode)
    content_key, aad = _h(vector["content_key_hex"]), rebuilt["aad"]
    payload = bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        _h(vector["ciphertext_hex"]), aad, _h(vector["nonce_hex"]), content_key
    )
    assert payload == _h(vector["payload_hex"]) == vector["payload_utf8"].encode()
    sender = _vector_device(vector["sender_device_id"])
    for device_id, wrapped in vector["keys_hex"].items():
        device = _vector_device(device_id)
        box = Box(PrivateKey(_h(device["kx_private_hex"])), PublicKey(_h(sender["kx_public_hex"])))
        assert _h(wrapped)[:24].hex() == vector["box_nonces_hex"][device_id]
        assert box.decrypt(_h(wrapped)) == content_key


@pytest.mark.parametrize("index", [0, 1])
def test_vector_envelope_reproduces_byte_exact(index: int) -> None:
    vector = vectors()["envelopes"][index]
    sender = _vector_device(vector["sender_device_id"])
    devices = vectors()["devices"]
    envelope = seal(
        _h(vector["payload_hex"]),
        conversation_id=vector["conversation_id"],
        message_id=vector["message_id"],
        sender_device_id=vector["sender_device_id"],
        identity=SigningKey(_h(sender["identity_seed_hex"])),
        kx=PrivateKey(_h(sender["kx_private_hex"])),
        recipients={d["device_id"]: _h(d["kx_public_hex"]) for d in devices},
        urgent=vector["urgent"],
        content_key=_h(vector["content_key_hex"]),
        nonce=_h(vector["nonce_hex"]),
        box_nonces={d: _h(n) for d, n in vector["box_nonces_hex"].items()},
    )
    conversation = vector["conversation_id"]
    aad = build_aad(conversation, envelope.message_id, envelope.sender_device_id)
    assert aad.hex() == vector["aad_hex"]
    assert keys_block(envelope.keys).hex() == vector["keys_block_hex"]
    assert signature_input(conversation, envelope).hex() == vector["sig_input_hex"]
    assert envelope.signature.hex() == vector["signature_hex"]
    assert envelope.to_wire() == vector["wire"]
    assert Envelope.from_wire(vector["wire"]) == envelope
    verify_envelope(conversation, envelope, _h(sender["identity_public_hex"]))
    for device in devices:
        opened = open_envelope(
            envelope,
            conversation_id=conversation,
            own_device_id=device["device_id"],
            own_kx=PrivateKey(_h(device["kx_private_hex"])),
            sender_identity_public=_h(sender["identity_public_hex"]),
            sender_kx_public=_h(sender["kx_public_hex"]),
        )
        assert opened == _h(vector["payload_hex"])


@pytest.mark.parametrize("index", [0, 1])
def test_vector_safety_number_reproduces(index: int) -> None:
    vector = vectors()["safety_numbers"][index]
    keys_a = [_h(key) for key in vector["identity_keys_a_hex"]]
    keys_b = [_h(key) for key in vector["identity_keys_b_hex"]]
    number = safety_number(vector["account_a"], keys_a, vector["account_b"], keys_b)
    assert number == vector["safety_number"]
    assert number[:30] == _reference_half(vector["account_b"], keys_b)  # "acc_Bob" < "acc_alice"
    assert number[30:] == _reference_half(vector["account_a"], keys_a)


def _reference_half(account_id: str, keys: list[bytes]) -> str:
    joined = b"".join(sorted(keys))
    h = hashlib.sha512(b"haven-sn-v1\x00" + account_id.encode() + b"\x00" + joined).digest()
    for _ in range(5199):
        h = hashlib.sha512(h + joined).digest()
    return "".join(
        str(int.from_bytes(h[i : i + 5], "big") % 100000).zfill(5) for i in (0, 5, 10, 15, 20, 25)
    )


# --- round trip and receiver checks -----------------------------------------------------


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


def _new_device(device_id: str) -> Device:
    return Device(device_id, SigningKey.generate(), PrivateKey.generate())


@pytest.fixture
def devices() -> list[Device]:
    return [_new_device("dev-coach"), _new_device("dev_client_phone"), _new_device("dev_client_pc")]


MESSAGE_ID = "3b241101-e2bb-4255-8caf-4136c566a962"
PAYLOAD = json.dumps({"type": "text", "body": "hello ✓", "sent_at": 1795000000}).encode()


def _seal(devices: list[Device], *, urgent: bool = False, message_id: str = MESSAGE_ID) -> Envelope:
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


def _open(envelope: Envelope, devices: list[Device], receiver: int = 1, **overrides: Any) -> bytes:
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


def _flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_round_trip_opens_for_all_three_devices_including_the_sender(
    devices: list[Device],
) -> None:
    envelope = _seal(devices)
    assert len(envelope.keys) == 3
    assert all(len(box) == 72 for box in envelope.keys.values())
    verify_envelope(CONVERSATION, envelope, devices[0].identity_public)
    for receiver in range(3):
        assert _open(envelope, devices, receiver) == PAYLOAD
    assert Envelope.from_wire(json.loads(json.dumps(envelope.to_wire()))) == envelope


def test_seal_uses_fresh_key_and_nonces_each_time(devices: list[Device]) -> None:
    first, second = _seal(devices), _seal(devices)
    assert first.nonce != second.nonce
    assert first.commitment != second.commitment
    assert first.keys["dev-coach"][:24] != second.keys["dev-coach"][:24]


def _resign(envelope: Envelope, sender: Device, conversation: str = CONVERSATION) -> Envelope:
    signature = sender.identity.sign(signature_input(conversation, envelope)).signature
    return dataclasses.replace(envelope, signature=signature)


def _with_key(envelope: Envelope, device_id: str, box: bytes) -> Envelope:
    return dataclasses.replace(envelope, keys={**envelope.keys, device_id: box})


TAMPERINGS: dict[str, Callable[[Envelope], Envelope]] = {
    "ciphertext_byte": lambda e: dataclasses.replace(e, ciphertext=_flip(e.ciphertext, 3)),
    "tag_byte": lambda e: dataclasses.replace(e, ciphertext=_flip(e.ciphertext, -1)),
    "nonce_byte": lambda e: dataclasses.replace(e, nonce=_flip(e.nonce, 5)),
    "own_keys_entry": lambda e: _with_key(
        e, "dev_client_phone", _flip(e.keys["dev_client_phone"], 40)
    ),
    "other_keys_entry": lambda e: _with_key(e, "dev_client_pc", _flip(e.keys["dev_client_pc"], 40)),
    "added_keys_entry": lambda e: _with_key(e, "dev_intruder", e.keys["dev_client_pc"]),
    "signature_byte": lambda e: dataclasses.replace(e, signature=_flip(e.signature, 10)),
    "commitment_byte": lambda e: dataclasses.replace(e, commitment=_flip(e.commitment, 0)),
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
    tampered = tamper(_seal(devices))
    with pytest.raises(BadSignature):
        verify_envelope(CONVERSATION, tampered, devices[0].identity_public)
    with pytest.raises(EnvelopeError):
        _open(tampered, devices)


def test_rejects_envelope_opened_under_another_conversation_id(devices: list[Device]) -> None:
    envelope = _seal(devices)
    with pytest.raises(BadSignature):
        verify_envelope("conv_other", envelope, devices[0].identity_public)
    with pytest.raises(EnvelopeError, match="does not verify"):
        _open(envelope, devices, conversation_id="conv_other")


def test_aad_binds_conversation_even_with_a_signature_made_for_it(devices: list[Device]) -> None:
    resigned = _resign(_seal(devices), devices[0], "conv_other")
    with pytest.raises(EnvelopeError, match="ciphertext does not authenticate"):
        _open(resigned, devices, conversation_id="conv_other")


def test_rejects_envelope_signed_by_another_device(devices: list[Device]) -> None:
    envelope = _resign(_seal(devices), devices[2])
    with pytest.raises(BadSignature):
        verify_envelope(CONVERSATION, envelope, devices[0].identity_public)
    with pytest.raises(EnvelopeError, match="does not verify"):
        _open(envelope, devices)


def test_rejects_unknown_alg(devices: list[Device]) -> None:
    envelope = dataclasses.replace(_seal(devices), alg="haven-v2")
    with pytest.raises(BadSignature, match="unsupported alg"):
        verify_envelope(CONVERSATION, envelope, devices[0].identity_public)
    with pytest.raises(EnvelopeError, match="unsupported alg"):
        _open(envelope, devices)


def test_rejects_envelope_without_own_device(devices: list[Device]) -> None:
    keys = {d: box for d, box in _seal(devices).keys.items() if d != "dev_client_phone"}
    envelope = _resign(dataclasses.replace(_seal(devices), keys=keys), devices[0])
    verify_envelope(CONVERSATION, envelope, devices[0].identity_public)
    with pytest.raises(EnvelopeError, match="not among the recipients"):
        _open(envelope, devices)


def test_urgent_flag_is_signed(devices: list[Device]) -> None:
    urgent = _seal(devices, urgent=True)
    verify_envelope(CONVERSATION, urgent, devices[0].identity_public)
    assert _open(urgent, devices) == PAYLOAD
    assert signature_input(CONVERSATION, urgent)[-1] == 1
    downgraded = dataclasses.replace(urgent, urgent=False)
    assert signature_input(CONVERSATION, downgraded)[-1] == 0
    with pytest.raises(BadSignature):
        verify_envelope(CONVERSATION, downgraded, devices[0].identity_public)


def test_rejects_invisible_salamander_with_other_key_for_one_device(
    devices: list[Device],
) -> None:
    """A sender wraps a different content key for one device and signs the result."""
    sender, victim = devices[0], devices[1]
    envelope = _seal(devices)
    other_key = os.urandom(32)
    box = bytes(Box(sender.kx, PublicKey(victim.kx_public)).encrypt(other_key))
    forged = _resign(_with_key(envelope, victim.device_id, box), sender)
    verify_envelope(CONVERSATION, forged, sender.identity_public)  # the gateway cannot tell
    assert _open(forged, devices, receiver=2) == PAYLOAD
    with pytest.raises(EnvelopeError, match="commitment") as caught:
        _open(forged, devices, receiver=1)
    assert caught.value.field == "commitment"


def test_rejects_key_box_from_another_sender_kx(devices: list[Device]) -> None:
    with pytest.raises(EnvelopeError, match="key box does not open"):
        _open(_seal(devices), devices, sender_kx_public=devices[2].kx_public)


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
        _seal(devices, message_id=message_id)


# --- wire format -------------------------------------------------------------------------


def _wire(devices: list[Device]) -> dict[str, Any]:
    return _seal(devices).to_wire()


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


# --- keys and login ----------------------------------------------------------------------


def test_kx_signature_is_bound_to_handle_key_and_identity() -> None:
    identity, kx = SigningKey.generate(), bytes(PrivateKey.generate().public_key)
    identity_public = bytes(identity.verify_key)
    signature = sign_kx(identity, "sam", kx)
    assert verify_kx_signature(identity_public, "sam", kx, signature)
    assert verify_kx_signature(identity_public, "SAM", kx, signature)  # handles are lowercased
    assert not verify_kx_signature(identity_public, "samuel", kx, signature)
    assert not verify_kx_signature(identity_public, "sam", _flip(kx), signature)
    other_identity = bytes(SigningKey.generate().verify_key)
    assert not verify_kx_signature(other_identity, "sam", kx, signature)
    assert not verify_kx_signature(identity_public, "sam", kx, signature[:63])
    assert not verify_kx_signature(identity_public, "sam", kx[:31], signature)


def test_login_proof_binds_handle_ts_and_both_keys() -> None:
    identity, kx = SigningKey.generate(), bytes(PrivateKey.generate().public_key)
    identity_public = bytes(identity.verify_key)
    proof = sign_login_proof(identity, "sam", 1795000000, kx)
    assert verify_login_proof(identity_public, "sam", 1795000000, kx, proof)
    assert not verify_login_proof(identity_public, "sam", 1795000001, kx, proof)
    assert not verify_login_proof(identity_public, "other", 1795000000, kx, proof)
    assert not verify_login_proof(identity_public, "sam", 1795000000, _flip(kx), proof)
    assert not verify_login_proof(identity_public, "sam", True, kx, proof)  # bool is not a ts
    assert not verify_kx_signature(identity_public, "sam", kx, proof)  # domain separation


def test_signature_inputs_refuse_nul_in_handle() -> None:
    with pytest.raises(CryptoError):
        kx_signature_input("sam\x00x", bytes(32))


# --- low-order points --------------------------------------------------------------------


def _x25519(scalar: int, u: int) -> int:
    """Textbook Montgomery ladder (RFC 7748), independent of libsodium."""
    x1, x2, z2, x3, z3, swap = u % P, 1, 0, u % P, 1, 0
    for bit in reversed(range(255)):
        k = (scalar >> bit) & 1
        swap ^= k
        x2, x3, z2, z3 = (x3, x2, z3, z2) if swap else (x2, x3, z2, z3)
        swap = k
        a, b, c, d = x2 + z2, x2 - z2, x3 + z3, x3 - z3
        aa, bb, da, cb = a * a, b * b, d * a, c * b
        x3, z3 = (da + cb) ** 2 % P, x1 * (da - cb) ** 2 % P
        x2, z2 = aa * bb % P, (aa - bb) * (aa + 121665 * (aa - bb)) % P
    x2, z2 = (x3, z3) if swap else (x2, z2)
    return x2 * pow(z2, P - 2, P) % P


LOW_ORDER = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    (P - 1).to_bytes(32, "little"),
    P.to_bytes(32, "little"),
    (P + 1).to_bytes(32, "little"),
]


@pytest.mark.parametrize("point", LOW_ORDER, ids=lambda p: p.hex()[:8])
@pytest.mark.parametrize("high_bit", [False, True])
def test_low_order_points_are_refused(point: bytes, high_bit: bool) -> None:
    if high_bit:
        point = point[:31] + bytes([point[31] | 0x80])
    u = int.from_bytes(point, "little") & ((1 << 255) - 1)
    assert _x25519(8 * 2**251, u) == 0  # really small order: cofactor times anything is 0
    assert is_low_order_x25519(point)
    with pytest.raises(LowOrderKey):
        check_x25519_public(point)


def test_ordinary_keys_pass_the_low_order_check() -> None:
    for _ in range(20):
        public = bytes(PrivateKey.generate().public_key)
        assert not is_low_order_x25519(public)
        assert check_x25519_public(public) == public
    with pytest.raises(CryptoError):
        is_low_order_x25519(bytes(31))


def test_seal_refuses_low_order_recipient(devices: list[Device]) -> None:
    recipients = {d.device_id: d.kx_public for d in devices} | {"dev-evil": LOW_ORDER[2]}
    with pytest.raises(LowOrderKey):
        seal(
            PAYLOAD,
            conversation_id=CONVERSATION,
            message_id=MESSAGE_ID,
            sender_device_id=devices[0].device_id,
            identity=devices[0].identity,
            kx=devices[0].kx,
            recipients=recipients,
            urgent=False,
        )


def test_open_refuses_low_order_sender_kx(devices: list[Device]) -> None:
    with pytest.raises(EnvelopeError, match="low-order"):
        _open(_seal(devices), devices, sender_kx_public=LOW_ORDER[0])


# --- base64url ---------------------------------------------------------------------------


def test_b64_round_trips_every_length() -> None:
    for size in range(40):
        data = os.urandom(size)
        text = b64e(data)
        assert not set(text) & set("=+/")
        assert b64d(text) == data


@pytest.mark.parametrize(
    "text",
    ["AA==", "AAA=", "+w", "/w", "A", "AB", "AAB", "AA AA", "AA\n", "ÄA", "AAAAA"],
)
def test_b64d_refuses_non_canonical_text(text: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        b64d(text)


def test_b64d_accepts_url_alphabet() -> None:
    assert b64d("-w") == b"\xfb"
    assert b64d("_w") == b"\xff"
    assert b64d("") == b""


# --- safety numbers ----------------------------------------------------------------------


def test_safety_number_is_60_digits_symmetric_and_tracks_devices() -> None:
    keys_a = [bytes(SigningKey.generate().verify_key) for _ in range(2)]
    keys_b = [bytes(SigningKey.generate().verify_key)]
    number = safety_number("acc_a", keys_a, "acc_b", keys_b)
    assert len(number) == 60
    assert number.isdigit()
    assert safety_number("acc_b", keys_b, "acc_a", keys_a) == number
    assert safety_number("acc_a", list(reversed(keys_a)), "acc_b", keys_b) == number
    added = [*keys_b, bytes(SigningKey.generate().verify_key)]
    changed = safety_number("acc_a", keys_a, "acc_b", added)
    assert changed != number
    assert changed[:30] == number[:30]
    assert safety_number("acc_a", keys_a[:1], "acc_b", keys_b)[30:] == number[30:]


def test_safety_number_needs_keys_of_the_right_size() -> None:
    key = bytes(SigningKey.generate().verify_key)
    with pytest.raises(CryptoError):
        safety_number("acc_a", [], "acc_b", [key])
    with pytest.raises(CryptoError):
        safety_number("acc_a", [key[:31]], "acc_b", [key])


def test_commitment_depends_on_key_and_nonce() -> None:
    key, nonce = os.urandom(32), os.urandom(24)
    assert len(compute_commitment(key, nonce)) == 32
    assert compute_commitment(key, nonce) != compute_commitment(os.urandom(32), nonce)
    assert compute_commitment(key, nonce) != compute_commitment(key, os.urandom(24))
