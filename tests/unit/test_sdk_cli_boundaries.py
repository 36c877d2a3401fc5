"""The companion CLI's push, settings and availability commands, and ``coach_away`` in
``listen``, driven in-process against the fake."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from haven_client.cli import run_cli
from tests.sdk_fakes.harness import PASSPHRASE, PASSWORD, new_client, new_keystore
from tests.sdk_fakes.server import FakeHaven

LINE_NOT_NOW = "Kim usually replies within 24 hours; not available for now."


@dataclasses.dataclass
class Setup:
    fake: FakeHaven
    coach: Path
    client: Path
    conversation_id: str
    coach_account_id: str

    async def cli(self, keystore: Path, *argv: str, stdin: str = "") -> list[dict[str, Any]]:
        out = io.StringIO()
        argv = ("--json", "--server", self.fake.url, "--keystore", str(keystore), *argv)
        assert await run_cli(argv, out, io.StringIO(stdin)) == 0
        return [json.loads(line) for line in out.getvalue().splitlines()]

    async def cli_error(self, keystore: Path, *argv: str, stdin: str = "") -> str:
        """The one friendly line a refused command writes (and it exits non-zero)."""
        out, err = io.StringIO(), io.StringIO()
        argv = ("--json", "--server", self.fake.url, "--keystore", str(keystore), *argv)
        assert await run_cli(argv, out, io.StringIO(stdin), err) != 0
        assert out.getvalue() == ""
        return err.getvalue()


@contextlib.asynccontextmanager
async def _setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Setup]:
    """Kim (a coach) and a client, logged in through the SDK; the CLI opens their keystores."""
    monkeypatch.setenv("HAVEN_KEYSTORE_PASSPHRASE", PASSPHRASE)
    async with FakeHaven.running() as fake:
        operator = fake.bootstrap_operator()
        paths = tmp_path / "coach.json", tmp_path / "client.json"
        coach, client = [new_client(fake, await new_keystore(p)) for p in paths]
        try:
            kim = await coach.register("kim", PASSWORD, fake.invite("coach", operator), "Kim")
            await client.register("sam", PASSWORD, fake.invite("client", kim.account_id), "Sam")
            await coach.login("kim", PASSWORD)
            await client.login("sam", PASSWORD)
            (conversation,) = await client.conversations()
        finally:
            await coach.close()
            await client.close()
        yield Setup(fake, paths[0], paths[1], conversation.conversation_id, kim.account_id)


async def test_push_set_generates_a_secret_and_prints_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _setup(tmp_path, monkeypatch) as s:
        (registered,) = await s.cli(s.client, "push", "set", "https://push.example.org/haven")
        (status,) = await s.cli(s.client, "push", "status")

        ((url, secret),) = s.fake.state.push_subscriptions.values()
        assert url == "https://push.example.org/haven"
        assert registered == {"set": True, "host": "push.example.org", "secret": secret}
        assert len(secret) >= 32
        assert status == {"set": True, "host": "push.example.org"}


async def test_push_set_reads_the_secret_from_stdin_and_never_echoes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "relay-secret-" + "x" * 30
    async with _setup(tmp_path, monkeypatch) as s:
        (registered,) = await s.cli(
            s.client, "push", "set", "https://push.example.org/h", "--secret-stdin", stdin=secret
        )
        (removed,) = await s.cli(s.client, "push", "remove")
        (status,) = await s.cli(s.client, "push", "status")

        assert registered == {"set": True, "host": "push.example.org"}
        assert s.fake.state.notify_requests[0][2]["secret"] == secret
        assert removed == status == {"set": False}


async def test_push_set_with_an_empty_stdin_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _setup(tmp_path, monkeypatch) as s:
        line = await s.cli_error(
            s.client, "push", "set", "https://push.example.org/h", "--secret-stdin"
        )
        assert "no secret on stdin" in line

        assert s.fake.state.notify_requests == []


async def test_settings_quiet_hours_in_a_zone_then_show_and_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _setup(tmp_path, monkeypatch) as s:
        (set_,) = await s.cli(
            s.client, "notifications", "quiet-hours", "21:00", "08:00", "--tz", "Europe/Berlin"
        )
        (shown,) = await s.cli(s.client, "notifications", "show")
        (cleared,) = await s.cli(s.client, "notifications", "no-quiet-hours")
        (bypass,) = await s.cli(s.coach, "notifications", "urgent-bypass", "on")

        expected = {
            "time_zone": "Europe/Berlin",
            "quiet_hours": {"start": "21:00", "end": "08:00"},
            "urgent_bypass": False,
            "urgent_while_paused": False,
        }
        assert set_ == shown == expected
        assert cleared == {**expected, "quiet_hours": None}
        assert bypass["urgent_bypass"] is True


async def test_availability_set_from_a_file_and_shown_with_the_expectation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hours = {
        "time_zone": "Europe/Berlin",
        "weekly": [{"day": "mon", "start": "09:00", "end": "17:00"}],
        "response_time_hours": 24,
        "away_message": "I read messages on Mondays.",
        "away": None,
    }
    (tmp_path / "hours.json").write_text(json.dumps(hours))
    async with _setup(tmp_path, monkeypatch) as s:
        (saved,) = await s.cli(s.coach, "availability", "set", str(tmp_path / "hours.json"))
        s.fake.state.availability_status[s.coach_account_id] = (False, None)
        (by_handle,) = await s.cli(s.client, "availability", "show", "kim", "--tz", "Asia/Tokyo")
        (by_conversation,) = await s.cli(s.client, "availability", "show", s.conversation_id)
        (own,) = await s.cli(s.coach, "availability", "show", "kim")

        assert {k: saved[k] for k in hours} == hours
        shown = {"available_now": False, "next_available_at": None}
        assert by_handle == {**hours, **shown, "reply_expectation": LINE_NOT_NOW}
        assert by_conversation == by_handle
        assert "reply_expectation" not in own
        assert own["response_time_hours"] == 24


async def test_availability_file_that_does_not_fit_names_the_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hours.json").write_text(json.dumps({"time_zone": "UTC", "weekly": []}))
    async with _setup(tmp_path, monkeypatch) as s:
        line = await s.cli_error(s.coach, "availability", "set", str(tmp_path / "hours.json"))
        assert "response_time_hours" in line

        assert s.fake.state.notify_requests == []


async def test_listen_shows_coach_away_with_the_friendly_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with _setup(tmp_path, monkeypatch) as s:
        listening = asyncio.create_task(s.cli(s.client, "listen", "--count", "1"))
        async with asyncio.timeout(5):
            while not s.fake.hub.sockets:  # the hub records no frame for a bare connect
                await asyncio.sleep(0.01)
        await s.fake.coach_away(
            s.conversation_id,
            away_message="Back on Monday.",
            response_time_hours=24,
            next_available_at=None,
        )
        await s.cli(s.coach, "send", s.conversation_id, stdin="got your note")
        events = await asyncio.wait_for(listening, 5)

    (away,) = [e for e in events if e["event"] == "CoachAway"]
    assert away["reply_expectation"] == LINE_NOT_NOW
    assert away["away_message"] == "Back on Monday."
    assert LINE_NOT_NOW in capsys.readouterr().err


def test_cli_help_lists_the_boundary_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "haven_client", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("push", "notifications", "availability"):
        assert command in result.stdout
