"""Operator secrets: a placeholder or weak bootstrap password, or a placeholder in a connection
URL, stops the gateway process at start with one line (exit code 2)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tools.api import PLACEHOLDERS


def _start_gateway(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.gateway"],
        env={"PATH": "/usr/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("password", PLACEHOLDERS)
def test_a_placeholder_or_weak_bootstrap_password_stops_the_gateway(password: str) -> None:
    result = _start_gateway(
        {"HAVEN_BOOTSTRAP_OPERATOR_HANDLE": "root", "HAVEN_BOOTSTRAP_OPERATOR_PASSWORD": password}
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "HAVEN_BOOTSTRAP_OPERATOR_PASSWORD" in lines[0]
    assert password not in result.stderr and password not in result.stdout


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("HAVEN_AMQP_URL", "amqp://haven:change-me-rabbitmq-password@127.0.0.1:5672/"),
        ("HAVEN_MONGO_URL", "mongodb://haven:Change-Me-mongodb@127.0.0.1:27017/"),
    ],
)
def test_a_placeholder_password_in_a_connection_url_stops_the_gateway(
    variable: str, url: str
) -> None:
    result = _start_gateway({variable: url})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0] and "placeholder" in lines[0]
    password = url.split("//")[1].split("@")[0]
    assert password not in result.stderr and url not in result.stderr
