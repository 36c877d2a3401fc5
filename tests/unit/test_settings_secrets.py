"""Secret settings: sample placeholders and weak operator passwords never pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.gateway.app import load_crisis_resources
from services.gateway.settings import GatewaySettings
from shared.settings import CommonSettings, describe_error, password_problem


@pytest.mark.parametrize(
    "password",
    ["change-me-operator-password", "xxCHANGEMExxxx", "Change_Me_12345", "short", "x" * 257],
)
def test_weak_or_placeholder_passwords_are_refused(password: str) -> None:
    problem = password_problem(password)
    assert problem is not None
    assert password not in problem


@pytest.mark.parametrize("password", ["operator-password-1", "x" * 10, "x" * 256])
def test_real_passwords_pass(password: str) -> None:
    assert password_problem(password) is None


def test_a_blank_bootstrap_password_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_BOOTSTRAP_OPERATOR_PASSWORD", "")
    assert GatewaySettings().bootstrap_operator_password is None


def test_the_error_names_the_variable_never_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_MONGO_URL", "mongodb://haven:change%2Dme-db@db:27017/")
    with pytest.raises(ValidationError) as caught:
        CommonSettings()
    line = describe_error(caught.value)
    assert line.startswith("HAVEN_MONGO_URL:") and "placeholder" in line
    assert "change%2Dme-db" not in line and "haven:" not in line


def test_a_bad_crisis_resources_file_stops_start_up_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "call-me-at-555-secret"
    bad = tmp_path / "crisis.json"
    bad.write_text(f'{{"resources": [{{"name": "{secret}"}}]}}')
    with pytest.raises(SystemExit) as caught:
        load_crisis_resources(GatewaySettings(crisis_resources_file=bad))
    assert caught.value.code == 2
    line = capsys.readouterr().err
    assert line.startswith("configuration error: HAVEN_CRISIS_RESOURCES_FILE must be JSON")
    assert line.count("\n") == 1 and secret not in line
    assert load_crisis_resources(GatewaySettings(crisis_resources_file=None)) == []
