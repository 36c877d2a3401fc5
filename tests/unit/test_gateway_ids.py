"""Server-made ids and invite codes go into command lines (`haven send CONVERSATION`), where a
leading dash reads as an option: the gateway never makes one that starts with "-"."""

from __future__ import annotations

import pytest

from services.gateway.model.records import common


def test_a_token_starting_with_a_dash_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter(["-Ek09hp9yEyofvP7", "-x", "Ek09hp9yEyofvP7-"])
    monkeypatch.setattr(common.secrets, "token_urlsafe", lambda _: next(drawn))
    assert common.new_id() == "Ek09hp9yEyofvP7-"


def test_real_ids_and_codes_never_start_with_a_dash() -> None:
    made = [common.new_id() for _ in range(2000)] + [common.unflagged_token(24) for _ in range(500)]
    assert not [value for value in made if value.startswith("-")]
    assert len(set(made)) == len(made)
