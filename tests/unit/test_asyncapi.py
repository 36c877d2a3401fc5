"""The WebSocket's AsyncAPI document: valid AsyncAPI 3.0, every reference resolves, and the
frames the services really build match the payload schemas it publishes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from services.gateway.edge.asyncapi import build_asyncapi
from services.notification import frames
from shared.events import MessageDeletedData, ReceiptData, RejectedData, StoredMessageData

SCHEMA = Path(__file__).parents[1] / "support" / "schemas" / "asyncapi-3.0.0.json"
VECTORS = Path(__file__).parents[1] / "vectors" / "haven-v1.json"


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> object:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_the_document_is_valid_asyncapi_3() -> None:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(build_asyncapi())]
    assert errors == []


def test_the_validator_rejects_a_broken_document() -> None:
    broken = json.loads(json.dumps(build_asyncapi()))
    broken["operations"]["deliver"]["action"] = "push"
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    assert not validator.is_valid(broken)


def test_every_reference_resolves() -> None:
    document = build_asyncapi()
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        _resolve(document, ref)  # KeyError names the dangling reference


def _payload_validator(name: str) -> jsonschema.Draft7Validator:
    document = build_asyncapi()
    payload = document["components"]["messages"][name]["payload"]
    # The payload's references point into the document: resolve them from it.
    schema = {**payload, "components": document["components"]}
    return jsonschema.Draft7Validator(schema)


def _envelope() -> dict[str, Any]:
    return dict(json.loads(VECTORS.read_text())["envelopes"][0]["wire"])


NOW = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)


def _server_frames() -> list[dict[str, Any]]:
    stored = StoredMessageData(
        conversation_id="c1",
        message_id="m1",
        seq=3,
        sender_account_id="a1",
        sender_device_id="d1",
        server_ts=NOW,
        urgent=False,
        envelope=_envelope(),
        recipient_device_ids=["d1"],
    )
    built: list[Any] = [
        frames.message(stored),
        frames.message_deleted(
            MessageDeletedData(
                conversation_id="c1", message_id="m1", seq=3, deleted_by="a1",
                recipient_device_ids=["d1"],
            )
        ),
        frames.read(ReceiptData(conversation_id="c1", account_id="a1", up_to_seq=3)),
        frames.devices_changed("a1"),
        frames.urgent_attempt("c1"),
        frames.relationship("c1", "paused", "holiday", "2026-12-24"),
        frames.relationship("c1", "active"),
        frames.retention("c1", None),
        frames.retention("c1", 30),
        frames.message_rejected(
            RejectedData(
                conversation_id="c1", message_id="m1", sender_account_id="a1",
                sender_device_id="d1", code="conflict", detail="another envelope",
            )
        ),
        frames.coach_away("c1", "Back Monday", 24, NOW, backup_contact="Ana"),
        frames.coach_away("c1", "Back soon", 24, None),
        {"type": "ready"},
        {"type": "resync"},
        {"type": "pong"},
        {"type": "accepted", "message_id": "m1"},
        {"type": "error", "message_id": None, "code": "device_mismatch", "detail": "…",
         "missing_devices": ["d2"], "extra_devices": []},
        {"type": "error", "code": "rate_limited", "detail": "…", "retry_after": 2},
    ]  # fmt: skip
    # Notification's builders give typed frames (shared/frames.py); the wire form is their JSON.
    return [frame if isinstance(frame, dict) else frame.wire() for frame in built]


def test_real_server_frames_match_their_payload_schemas() -> None:
    for frame in _server_frames():
        errors = [e.message for e in _payload_validator(frame["type"]).iter_errors(frame)]
        assert errors == [], (frame["type"], errors)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "auth", "access_token": "t"},
        {"type": "ack", "message_id": "m1"},
        {"type": "ping"},
    ],
)
def test_client_frames_match_their_payload_schemas(frame: dict[str, Any]) -> None:
    assert _payload_validator(frame["type"]).is_valid(frame)


def test_a_send_frame_carries_a_wire_envelope() -> None:
    validator = _payload_validator("send")
    envelope = _envelope()
    assert validator.is_valid({"type": "send", "conversation_id": "c1", "envelope": envelope})
    assert not validator.is_valid({"type": "send", "conversation_id": "c1", "envelope": {}})


def test_a_frame_of_another_type_does_not_pass_as_this_one() -> None:
    assert not _payload_validator("read").is_valid({"type": "devices_changed", "account_id": "a"})


def test_every_frame_is_listed_in_the_socket_channel() -> None:
    document = build_asyncapi()
    channel = document["channels"]["socket"]
    assert set(channel["messages"]) == set(document["components"]["messages"])
    assert set(channel["x-close-codes"]) == {"1001", "1012", "1013", "4401", "4403", "4409", "4429"}
