"""WebSocket frames render exactly API.md's keys, and parse back to the same frame."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pydantic
import pytest

from services.gateway.edge.websocket import client_frame
from shared.frames import (
    SERVER_FRAMES,
    Accepted,
    Ack,
    Auth,
    CoachAway,
    DevicesChanged,
    ErrorFrame,
    MessageDeleted,
    MessageRejected,
    Ping,
    Pong,
    Read,
    Ready,
    RelationshipChanged,
    Resync,
    RetentionChanged,
    Send,
    ServerFrame,
    UrgentAttempt,
)

AWAY_AT = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)

RENDERED: list[tuple[ServerFrame, str]] = [
    (Ready(), '{"type": "ready"}'),
    (Pong(), '{"type": "pong"}'),
    (Resync(), '{"type": "resync"}'),
    (
        MessageDeleted(conversation_id="c1", message_id="m1", seq=3),
        '{"type": "message_deleted", "conversation_id": "c1", "message_id": "m1", "seq": 3}',
    ),
    (
        Read(conversation_id="c1", account_id="a1", up_to_seq=9),
        '{"type": "read", "conversation_id": "c1", "account_id": "a1", "up_to_seq": 9}',
    ),
    (DevicesChanged(account_id="a1"), '{"type": "devices_changed", "account_id": "a1"}'),
    (
        RelationshipChanged(conversation_id="c1", status="active"),
        '{"type": "relationship", "conversation_id": "c1", "status": "active", "reason": null,'
        ' "resume_on": null}',
    ),
    (
        RetentionChanged(conversation_id="c1", retention_days=None),
        '{"type": "retention", "conversation_id": "c1", "retention_days": null}',
    ),
    (
        CoachAway(
            conversation_id="c1",
            away_message="Back Monday",
            response_time_hours=24,
            next_available_at=AWAY_AT,
        ),
        '{"type": "coach_away", "conversation_id": "c1", "away_message": "Back Monday",'
        ' "response_time_hours": 24, "next_available_at": "2026-05-01T08:00:00Z"}',
    ),
    (
        CoachAway(
            conversation_id="c1",
            away_message="Away",
            response_time_hours=4,
            next_available_at=None,
            backup_contact="Ana",
        ),
        '{"type": "coach_away", "conversation_id": "c1", "away_message": "Away",'
        ' "response_time_hours": 4, "next_available_at": null, "backup_contact": "Ana"}',
    ),
    (
        MessageRejected(conversation_id="c1", message_id="m1", code="conflict", detail="taken"),
        '{"type": "message_rejected", "conversation_id": "c1", "message_id": "m1",'
        ' "code": "conflict", "detail": "taken"}',
    ),
    (
        UrgentAttempt(conversation_id="c1"),
        '{"type": "urgent_attempt", "conversation_id": "c1"}',
    ),
    (
        CoachAway(
            conversation_id="c1",
            away_message="Away",
            response_time_hours=4,
            next_available_at=None,
            crisis_resources=[{"name": "Line"}],
        ),
        '{"type": "coach_away", "conversation_id": "c1", "away_message": "Away",'
        ' "response_time_hours": 4, "next_available_at": null,'
        ' "crisis_resources": [{"name": "Line"}]}',
    ),
    (Accepted(message_id="m1"), '{"type": "accepted", "message_id": "m1"}'),
    (
        Accepted(message_id="m1", crisis_resources=[{"name": "Line"}]),
        '{"type": "accepted", "message_id": "m1", "crisis_resources": [{"name": "Line"}]}',
    ),
    (
        ErrorFrame(code="invalid_request", detail="Send a JSON object."),
        '{"type": "error", "code": "invalid_request", "detail": "Send a JSON object."}',
    ),
    (
        ErrorFrame(code="rate_limited", detail="Slow down.", retry_after=2),
        '{"type": "error", "code": "rate_limited", "detail": "Slow down.", "retry_after": 2}',
    ),
    (
        ErrorFrame(message_id=None, code="not_found", detail="no such conversation"),
        '{"type": "error", "message_id": null, "code": "not_found",'
        ' "detail": "no such conversation"}',
    ),
    (
        ErrorFrame(message_id="m1", code="device_mismatch", detail="d", missing_devices=["d2"]),
        '{"type": "error", "message_id": "m1", "code": "device_mismatch", "detail": "d",'
        ' "missing_devices": ["d2"]}',
    ),
]


@pytest.mark.parametrize(("frame", "text"), RENDERED)
def test_a_frame_renders_api_md_keys_and_parses_back(frame: ServerFrame, text: str) -> None:
    assert frame.text() == text
    again = SERVER_FRAMES.validate_json(text)
    assert type(again) is type(frame)
    assert again.text() == text  # what was left out stays out, what was null stays null


def test_an_unknown_server_frame_type_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        SERVER_FRAMES.validate_python({"type": "surprise"})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"type": "ping"}, Ping()),
        ({"type": "ack", "message_id": "m1"}, Ack(message_id="m1")),
        ({"type": "auth", "access_token": "t"}, Auth(access_token="t")),
        ({"type": "auth", "access_token": 7}, Auth(access_token=None)),  # closes with 4401
        ({"type": "send", "conversation_id": 5, "envelope": {}}, Send(envelope={})),
        ({"type": "ack", "message_id": 7}, None),  # not a frame this socket knows
        ({"type": "subscribe"}, None),
    ],
)
def test_client_frames(data: dict[str, object], expected: object) -> None:
    assert client_frame(json.loads(json.dumps(data))) == expected


def test_a_send_names_its_envelopes_message_id_only_when_it_is_a_string() -> None:
    assert Send(envelope={"message_id": "m1"}).message_id == "m1"
    assert Send(envelope={"message_id": 5}).message_id is None
    assert Send(envelope="not an object").message_id is None
