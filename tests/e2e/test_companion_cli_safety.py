"""The safety and data commands of `haven` and `haven-admin` against the real services: pause
and resume seen live in the client's chat, settings, the messaging agreement, export, account
deletion with a receipt that verifies, and the panic exit."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any

import pexpect
import pytest

from haven_client import copy as sdk_copy
from haven_client.cli import copy
from tests.support.cli import Cast, Person, onboard_fast
from tools.stack import Stack


@pytest.fixture(scope="module")
async def cast(shared_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Cast:
    return await onboard_fast(shared_stack.gateway_url, tmp_path_factory.mktemp("cli"), "safe")


async def test_the_cast_is_onboarded(cast: Cast) -> None:
    [listed] = await cast.coach.json("conversations")
    assert listed["conversation_id"] == cast.conversation_id


def test_a_pause_and_its_end_appear_live_in_the_client_s_chat(cast: Cast) -> None:
    chat = cast.client.chat(cast.conversation_id)
    try:
        chat.expect("connected")
        paused = cast.coach.run(
            "pause", cast.conversation_id, "--template", "time_off", "--until", "2030-01-07"
        )
        assert paused.returncode == 0, paused.stderr
        chat.expect_exact(sdk_copy.PAUSED)
        chat.expect_exact(sdk_copy.PAUSE_TEMPLATES["time_off"])
        chat.expect_exact("Planned to resume on 2030-01-07.")
        chat.sendline("are you there?")
        chat.expect_exact(copy.PAUSED_NOT_SENT)

        assert cast.coach.run("resume", cast.conversation_id).returncode == 0
        chat.expect_exact(copy.RESUMED)
        chat.sendline("welcome back")
        chat.expect_exact("✓ sent")
        chat.sendline("/quit")
        chat.expect(pexpect.EOF)
    finally:
        chat.close(force=True)


async def test_settings_are_shown_and_changed(cast: Cast) -> None:
    [shown] = await cast.client.json("settings", cast.conversation_id)
    assert shown["share_read_receipts"] is False  # a client shares none until they opt in
    [changed] = await cast.client.json(
        "settings", cast.conversation_id, "--read-receipts", "on", "--retention-days", "30"
    )
    assert changed["share_read_receipts"] is True and changed["retention_days"] == 30


async def test_a_published_agreement_is_accepted_before_the_client_sends(cast: Cast) -> None:
    (cast.directory / "agreement.txt").write_text("Messages are read within two working days.")
    await cast.operator.json(
        "agreement",
        "publish",
        str(cast.directory / "agreement.txt"),
        "--version",
        "v1",
        admin=True,
    )
    refused = await cast.client.arun("send", cast.conversation_id, stdin="hello")
    assert refused.returncode == 2 and "(consent_required)" in refused.stderr

    [current] = await cast.client.json("agreement", "show")
    assert current["version"] == "v1" and current["accepted"] is False
    await cast.client.json("agreement", "accept", "--yes")
    await cast.client.json("send", cast.conversation_id, stdin="agreed, and hello")


async def test_export_then_delete_the_account_with_a_receipt_that_verifies(
    cast: Cast, shared_stack: Stack
) -> None:
    exported = cast.directory / "export.json"
    [saved] = await cast.client.json("export", str(exported), "--readable")
    readable = json.loads((cast.directory / "export.readable.json").read_text())
    bodies = [m.get("payload", {}).get("body") for m in readable["messages"]]
    assert "agreed, and hello" in bodies
    assert "agreed, and hello" not in exported.read_text()  # the export itself is ciphertext
    assert saved["bytes"] == exported.stat().st_size

    receipt = cast.directory / "receipt.json"
    await cast.client.json("delete-account", "--yes", "--receipt", str(receipt))
    keys = (await asyncio.to_thread(_get_json, f"{shared_stack.gateway_url}/v1/keys"))["keys"]
    given = [arg for k in keys for arg in ("--public-key", f"{k['kid']}={k['public_key']}")]
    verified = await cast.operator.arun("verify-receipt", str(receipt), *given, admin=True)
    assert verified.returncode == 0 and verified.stdout.startswith("valid:"), verified.stdout
    gone = await cast.client.arun("me")
    assert gone.returncode == 4 and gone.stderr.strip() == f"haven: {copy.NOT_SIGNED_IN}"


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


async def test_panic_signs_the_device_out_and_erases_its_keystore(cast: Cast) -> None:
    laptop = await Person.create(cast.coach.server, cast.directory, "laptop", cast.coach.password)
    await laptop.json("login", "--handle", cast.coach_handle)
    [done] = await laptop.json("panic", "--yes")
    assert done == {"panic": True}
    assert not laptop.keystore.exists()
    after = await laptop.arun("me")
    assert after.stderr.strip() == "haven: " + copy.NO_KEYSTORE.format(path=laptop.keystore)
    devices = await cast.coach.json("devices")
    assert len(devices) == 1  # the laptop is revoked; the coach's own device remains
