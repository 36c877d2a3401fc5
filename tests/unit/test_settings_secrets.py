"""Secret settings: sample placeholders and weak operator passwords never pass."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

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
