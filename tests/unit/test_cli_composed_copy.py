"""Composed client-facing strings pass the copy rule too (issue 18 item 10): every CLI and SDK
catalogue entry with its placeholders filled, none of them ever says "Retry-After" or "not
sent"; and the coach's settings read and written the way people do ("mon-fri 09:00-17:00")."""

from __future__ import annotations

import string

import pytest

from haven_client import copy as sdk_copy
from haven_client.cli import coachtext
from haven_client.cli import copy as cli_copy
from haven_client.errors import InvalidSetting
from haven_client.models import CoachAvailability, NotificationSettings, QuietHours
from tests.support.copylint import lint_catalogue

SAMPLES = {
    "name": "Kim",
    "days": 30,
    "count": 3,
    "device": "Sam's phone",
    "log": "/home/sam/.config/haven/haven.log",
    "url": "127.0.0.1:8080",
    "path": "/tmp/keystore",
    "conversation_id": "c1",
    "handle": "kim",
    "message_id": "m1",
    "reason": "replaced by a newer socket",
    "account": "kim",
}


def composed(entries: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, text in entries.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        assert fields <= set(SAMPLES), (name, fields - set(SAMPLES))
        out[name] = text.format(**SAMPLES)
    return out


@pytest.mark.parametrize("catalogue", [cli_copy.CATALOGUE, sdk_copy.CATALOGUE])
def test_composed_lines_pass_the_copy_rule(catalogue: dict[str, str]) -> None:
    assert lint_catalogue(composed(dict(catalogue))) == []


@pytest.mark.parametrize("catalogue", [cli_copy.CATALOGUE, sdk_copy.CATALOGUE])
def test_no_client_facing_line_says_retry_after_or_not_sent(catalogue: dict[str, str]) -> None:
    for name, text in composed(dict(catalogue)).items():
        lowered = text.lower()
        assert "retry-after" not in lowered and "retry_after" not in lowered, name
        assert "not sent" not in lowered, name


def test_weekly_hours_and_reply_time_are_written_as_people_say_them() -> None:
    openings = coachtext.weekly("mon-fri 09:00-17:00, sat 10:00-12:00")
    assert [(o.day, o.start, o.end) for o in openings][:2] == [
        ("mon", "09:00", "17:00"),
        ("tue", "09:00", "17:00"),
    ]
    assert len(openings) == 6
    assert coachtext.hours_text(openings) == "Monday to Friday 09:00-17:00, Saturday 10:00-12:00"
    assert [o.day for o in coachtext.weekly("fri-mon 9:00-12:00")] == ["fri", "sat", "sun", "mon"]
    assert coachtext.hours("24h") == 24 and coachtext.hours("2d") == 48
    for bad in ("someday", "mon 9-5"):
        with pytest.raises(InvalidSetting):
            coachtext.weekly(bad)
    with pytest.raises(InvalidSetting):
        coachtext.hours("soon")


def test_coach_settings_read_as_sentences() -> None:
    shown = CoachAvailability(
        time_zone="Europe/Berlin",
        weekly=coachtext.weekly("mon-fri 09:00-17:00"),
        response_time_hours=24,
    )
    text = coachtext.availability_sentences("Kim", shown)
    assert text.startswith("Kim usually replies within 24 hours.")
    assert "{" not in text
    settings = NotificationSettings(
        time_zone="Europe/Berlin", quiet_hours=QuietHours(start="21:00", end="07:00")
    )
    said = coachtext.notification_sentences(settings, coach=True)
    assert "Quiet hours from 21:00 to 07:00" in said and "Urgent messages" in said
