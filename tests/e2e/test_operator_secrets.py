"""Operator secrets: no placeholder or weak bootstrap password; crisis-resource changes audited."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from pymongo import AsyncMongoClient

from tests.support.api import Api, Session
from tests.support.stack import Stack

PLACEHOLDERS = [
    "change-me-operator-password",
    "Please-CHANGE-ME-now",
    "CHANGEME1234567890",
    "short",
    "x" * 257,
]


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


async def test_haven_admin_refuses_a_placeholder_or_weak_password(
    stack: Stack, mongo_client: AsyncMongoClient, isolation: tuple[str, str]
) -> None:
    for n, password in enumerate(PLACEHOLDERS):
        env = {**stack.env, "HAVEN_ADMIN_PASSWORD": password}
        result = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "services.gateway.admin_cli",
                "create-operator",
                "--handle",
                f"weak{n}",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, (password, result.stdout, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "password" in result.stderr
        assert password not in result.stderr and password not in result.stdout
    accounts = mongo_client[f"{isolation[1]}_gateway"]["accounts"]
    assert await accounts.count_documents({"role": "operator"}) == 1  # the bootstrap one only


async def test_changing_crisis_resources_is_audited_with_the_operator(
    api: Api, operator: Session
) -> None:
    resources = {
        "resources": [
            {
                "name": "Crisis line",
                "contact": "0800 111 0 111",
                "description": "Free, day and night.",
                "region": "DE",
            }
        ]
    }
    coach = await api.onboard(operator, "coach", "coach_crisis")
    refused = await api.call("PUT", "/v1/admin/crisis-resources", resources, coach.access_token)
    assert refused.status == 403
    changed = await api.call("PUT", "/v1/admin/crisis-resources", resources, operator.access_token)
    assert changed.status == 204
    public = await api.call("GET", "/v1/crisis-resources")
    assert public.body["resources"] == resources["resources"]
    page = await api.call("GET", "/v1/admin/audit?limit=200", token=operator.access_token)
    entries = [e for e in page.body["entries"] if e["type"] == "crisis_resources_changed"]
    assert len(entries) == 1
    [entry] = entries
    assert entry["account_id"] == operator.account_id
    assert entry["device_id"] == operator.device_id
    assert entry["details"]["count"] == 1
