"""Client-facing copy: every catalogue passes the copy rule (tests/support/copylint.py), and
the gateway's problem answers read calmly with a next step while their codes stay the contract."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import pytest

from haven_client import copy as sdk_copy
from haven_client import copy_history as sdk_history_copy
from haven_client.cli import copy as cli_copy
from haven_client.cli import copy_history as cli_history_copy
from haven_client.events import InvalidMessage
from services.gateway import copy as gateway_copy
from services.gateway.edge.problems import ERROR_TABLE, HTTP_CODES, describe
from services.notification.push import notices
from shared.errors import ApiError, NotFoundError, PausedError
from tests.support.copylint import lint_catalogue, problems

# Each component registers its catalogue here.
CATALOGUES: dict[str, Mapping[str, str]] = {
    "gateway titles": gateway_copy.TITLES,
    "gateway next steps": gateway_copy.NEXT_STEPS,
    "gateway messages": gateway_copy.MESSAGES,
    "sdk": sdk_copy.CATALOGUE,
    "cli": cli_copy.CATALOGUE,
    "sdk history": sdk_history_copy.CATALOGUE,
    "cli history": cli_history_copy.CATALOGUE,
    "push notices": notices.CATALOGUE,
}
ROOT = Path(__file__).resolve().parents[2]
# Haven Web: its sentences are the `notice.*` keys (the rest are labels and headings).
_WEB = json.loads((ROOT / "clients/web/src/i18n/en.json").read_text(encoding="utf-8"))
CATALOGUES["web"] = {key: text for key, text in _WEB.items() if key.startswith("notice.")}


@pytest.mark.parametrize("name", sorted(CATALOGUES))
def test_every_catalogue_entry_is_calm_and_ends_with_a_next_step(name: str) -> None:
    assert lint_catalogue(CATALOGUES[name]) == []


def test_the_lint_catches_alarming_words_and_missing_next_steps() -> None:
    assert problems("x", "Invalid request.") != []
    assert problems("x", "The upload failed. Try again.") != []
    assert problems("x", "The conversation is paused.") != []
    assert problems("x", "The conversation is paused. Wait for the coach.") == []


def test_every_problem_code_has_a_title_and_a_next_step() -> None:
    codes = {code for _, code in ERROR_TABLE.values()} | set(HTTP_CODES.values())
    codes.add("internal_error")
    assert codes <= set(gateway_copy.TITLES) and codes <= set(gateway_copy.NEXT_STEPS)


def test_a_specific_detail_keeps_its_fact_and_gains_the_next_step() -> None:
    found = describe(NotFoundError("no such device"))
    assert found.code == "not_found"  # the contract
    text = found.fields()["detail"]
    assert text.startswith("No such device.") and problems("detail", text) == []
    paused = describe(PausedError(gateway_copy.PAUSED, reason="away", resume_on=None))
    assert paused.fields()["detail"] == gateway_copy.PAUSED and paused.extra["reason"] == "away"


def test_no_raised_gateway_detail_uses_an_alarming_word() -> None:
    raised = re.compile(r'raise \w+Error\(\s*f?"([^"]*)"')
    banned = re.compile(r"\b(error|failed|invalid|denied)", re.IGNORECASE)
    offenders = []
    for path in (ROOT / "services" / "gateway").rglob("*.py"):
        for text in raised.findall(path.read_text()):
            if banned.search(text):
                offenders.append(f"{path.name}: {text}")
    assert offenders == []


def test_a_message_from_before_this_device_reads_as_an_informative_line() -> None:
    event = InvalidMessage(
        conversation_id="c",
        message_id="m",
        seq=1,
        sender_account_id="a",
        sender_device_id="d",
        reason="this device is not among the recipients",
        predates_device=True,
    )
    assert event.notice == sdk_copy.PREDATES_DEVICE
    assert problems("notice", event.notice) == []


def test_pause_templates_are_neutral() -> None:
    for text in sdk_copy.PAUSE_TEMPLATES.values():
        assert len(text) <= 280 and not re.search(r"\b(error|failed|invalid|denied)", text, re.I)


def test_api_errors_keep_their_codes() -> None:
    assert {cls.code for cls in ApiError.__subclasses__()} >= {"paused", "consent_required"}
