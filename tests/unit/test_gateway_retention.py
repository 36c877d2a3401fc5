"""The role defaults and the retention rule: the shorter choice wins, within the bounds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from haven_client import pause_template
from haven_client.errors import HavenError
from services.gateway.model.records import ParticipantSettings, Relationship
from services.gateway.usecases.retention import RetentionPolicy, shares_read_receipts
from shared.errors import UnprocessableError

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def relationship(**settings: ParticipantSettings) -> Relationship:
    return Relationship("c1", "coach", "client", "active", NOW, settings=dict(settings))


def chose(days: int | None) -> ParticipantSettings:
    return ParticipantSettings(retention_chosen=True, retention_days=days)


def test_read_receipts_default_by_role_until_a_participant_chooses() -> None:
    plain = relationship()
    assert shares_read_receipts(plain, "coach") is True
    assert shares_read_receipts(plain, "client") is False
    opted = relationship(client=ParticipantSettings(share_read_receipts=True))
    assert shares_read_receipts(opted, "client") is True
    quiet = relationship(coach=ParticipantSettings(share_read_receipts=False))
    assert shares_read_receipts(quiet, "coach") is False


@pytest.mark.parametrize(
    ("policy", "settings", "effective"),
    [
        (RetentionPolicy(None, 1, None), {}, None),  # nobody limits: keep
        (RetentionPolicy(180, 7, 365), {}, 180),  # the operator default
        (RetentionPolicy(180, 7, 365), {"client": chose(30)}, 30),  # the shorter wins
        (RetentionPolicy(180, 7, 365), {"client": chose(30), "coach": chose(10)}, 10),
        (RetentionPolicy(None, 7, 365), {"client": chose(None)}, 365),  # keep, capped
        (RetentionPolicy(None, 7, None), {"coach": chose(None), "client": chose(None)}, None),
        (RetentionPolicy(None, 7, None), {"coach": chose(60)}, 60),
    ],
)
def test_the_shorter_choice_wins_within_the_bounds(
    policy: RetentionPolicy, settings: dict[str, ParticipantSettings], effective: int | None
) -> None:
    assert policy.effective(relationship(**settings)) == effective


def test_choices_outside_the_bounds_are_refused() -> None:
    policy = RetentionPolicy(180, 7, 365)
    for days in (None, 7, 365):
        policy.check_choice(days)
    for days in (6, 366):
        with pytest.raises(UnprocessableError):
            policy.check_choice(days)


def test_pause_templates_are_named_and_unknown_names_say_which_exist() -> None:
    assert pause_template("time_off").startswith("I'm taking some time off")
    with pytest.raises(HavenError, match="time_off"):
        pause_template("nope")
