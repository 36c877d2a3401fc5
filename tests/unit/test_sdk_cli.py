"""``python -m haven_client``: the companion CLI driven in-process against the fake."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from haven_client.cli import run_cli
from tests.sdk_fakes.harness import PASSPHRASE, PASSWORD, new_keystore
from tests.sdk_fakes.server import FakeHaven


async def _cli(url: str, keystore: Path, *argv: str, stdin: str = "") -> list[dict[str, Any]]:
    out = io.StringIO()
    argv = ("--json", "--server", url, "--keystore", str(keystore), *argv)
    assert await run_cli(argv, out, io.StringIO(stdin)) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_cli_registers_logs_in_sends_and_listens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAVEN_PASSWORD", PASSWORD)
    monkeypatch.setenv("HAVEN_KEYSTORE_PASSPHRASE", PASSPHRASE)
    coach_ks, client_ks = tmp_path / "coach.json", tmp_path / "client.json"
    for path in (coach_ks, client_ks):  # cheap argon2 for the test; the CLI opens them as usual
        (await new_keystore(path)).close()
    async with FakeHaven.running() as fake:
        operator = fake.bootstrap_operator()
        coach_invite = fake.invite("coach", operator)
        (coach,) = await _cli(
            fake.url, coach_ks, "register", "--handle", "coach", "--invite", coach_invite
        )
        client_invite = fake.invite("client", coach["account_id"])
        await _cli(fake.url, client_ks, "register", "--handle", "client", "--invite", client_invite)
        await _cli(fake.url, coach_ks, "login", "--handle", "coach")
        await _cli(fake.url, client_ks, "login", "--handle", "client")
        (conversation,) = await _cli(fake.url, client_ks, "conversations")
        conversation_id = conversation["conversation_id"]

        (sent,) = await _cli(
            fake.url, client_ks, "send", conversation_id, stdin="hello from the terminal\n"
        )
        events = await _cli(fake.url, coach_ks, "listen", "--count", "1")
        (coach_number,) = await _cli(fake.url, coach_ks, "safety-number", conversation_id)
        (client_number,) = await _cli(fake.url, client_ks, "safety-number", conversation_id)

    received = [e for e in events if e["event"] == "ReceivedMessage"]
    assert [(e["message_id"], e["body"]) for e in received] == [
        (sent["message_id"], "hello from the terminal")
    ]
    assert coach_number == client_number
    assert not coach_number["verified"]


def test_cli_module_runs_and_shows_its_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "haven_client", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("register", "login", "send", "listen", "safety-number"):
        assert command in result.stdout
