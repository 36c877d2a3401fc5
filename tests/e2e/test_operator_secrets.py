"""Operator secrets: a placeholder or weak bootstrap password, or a placeholder in a connection
URL, stops the gateway process at start with one line (exit code 2).

The first case of each test starts the gateway as a process; the others read the settings in
this process as the gateway's `main` does first (`load_settings`), with the same environment,
and check the same exit code and stderr (an interpreter start-up apiece proves nothing more)."""

from __future__ import annotations

import io
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest

from services.gateway.settings import GatewaySettings
from shared.settings import load_settings
from tests.support.cli import environment
from tools.api import PLACEHOLDERS

URLS = [
    ("HAVEN_AMQP_URL", "amqp://haven:change-me-rabbitmq-password@127.0.0.1:5672/"),
    ("HAVEN_MONGO_URL", "mongodb://haven:Change-Me-mongodb@127.0.0.1:27017/"),
]


def _start_gateway(env: dict[str, str], process: bool) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin", **env}
    argv = [sys.executable, "-m", "services.gateway"]
    if process:
        return subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=30, check=False
        )
    out, err = io.StringIO(), io.StringIO()
    with environment(env), redirect_stdout(out), redirect_stderr(err):
        try:
            load_settings(GatewaySettings)
            code: object = 0
        except SystemExit as stopped:
            code = stopped.code
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


@pytest.mark.parametrize("password", PLACEHOLDERS)
def test_a_placeholder_or_weak_bootstrap_password_stops_the_gateway(password: str) -> None:
    result = _start_gateway(
        {"HAVEN_BOOTSTRAP_OPERATOR_HANDLE": "root", "HAVEN_BOOTSTRAP_OPERATOR_PASSWORD": password},
        process=password == PLACEHOLDERS[0],
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "HAVEN_BOOTSTRAP_OPERATOR_PASSWORD" in lines[0]
    assert password not in result.stderr and password not in result.stdout


@pytest.mark.parametrize(("variable", "url"), URLS)
def test_a_placeholder_password_in_a_connection_url_stops_the_gateway(
    variable: str, url: str
) -> None:
    result = _start_gateway({variable: url}, process=(variable, url) == URLS[0])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0] and "placeholder" in lines[0]
    password = url.split("//")[1].split("@")[0]
    assert password not in result.stderr and url not in result.stderr
