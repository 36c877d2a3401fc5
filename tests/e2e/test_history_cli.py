"""Your history follows you, as a person types it (issue #22): `haven backup enable` shows the
recovery key once and asks for part of it back; on a brand-new keystore `haven login`, then
`haven backup restore` (the key typed at a hidden prompt, never on the command line) and
`haven history` shows the messages from before the device existed. A third device is linked
with `haven link --wait` and `haven link` after both show the same code; a code the person
does not confirm sends nothing. The services run as processes."""

from __future__ import annotations

import re
from pathlib import Path

import pexpect
import pytest

from haven_client.cli import copy_history as copy
from tests.support.cli import Cast, Person, onboard_fast
from tools.stack import Stack

KEY = re.compile(r"((?:[1-9A-HJ-NP-Za-km-z]{4} ){11}[1-9A-HJ-NP-Za-km-z]{1,4})")


@pytest.fixture(scope="module")
async def cast(shared_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Cast:
    return await onboard_fast(shared_stack.gateway_url, tmp_path_factory.mktemp("hist"), "hist")


def _finish(terminal: pexpect.spawn) -> int:
    terminal.expect(pexpect.EOF)
    terminal.close()
    return int(terminal.exitstatus or 0)


def _enable(client: Person) -> str:
    terminal = client.terminal("backup", "enable")
    try:
        terminal.expect("This is your recovery key")
        terminal.expect(KEY)
        key = str(terminal.match.group(1))
        terminal.expect("last group of four characters")
        terminal.sendline("XXXX")  # a person who did not write it down is asked again
        terminal.expect("not the last group")
        terminal.expect("last group of four characters")
        terminal.sendline(key.split(" ")[-1])
        terminal.expect("Backup is on")
        assert _finish(terminal) == 0
    finally:
        terminal.close(force=True)
    return key


async def _new_device(cast: Cast, name: str, *, on_a_terminal: bool = True) -> Person:
    """A brand-new keystore for the client, signed in with `haven login` on a terminal (or
    in this process, where what the terminal shows was seen already)."""
    device = await Person.create(cast.client.server, cast.directory, name, cast.client.password)
    login = ("login", "--handle", cast.client_handle, "--device-name", name)
    if not on_a_terminal:
        await device.json(*login)
        return device
    terminal = device.terminal(*login)
    try:
        terminal.expect("Signed in as")
        terminal.expect("haven link --wait")  # what to do to read earlier messages here
        assert _finish(terminal) == 0
    finally:
        terminal.close(force=True)
    return device


async def test_enable_then_restore_on_a_new_keystore_shows_the_earlier_history(
    cast: Cast, tmp_path: Path
) -> None:
    key = _enable(cast.client)
    cid = cast.conversation_id
    await cast.coach.json("send", cid, stdin="Before your new phone, Sam.\n")
    await cast.client.json("send", cid, "--urgent", stdin="I need to talk tonight\n")
    await cast.coach.json("send", cid, stdin="I'm here.\n")

    new = await _new_device(cast, "sam-new-phone")
    before = await new.arun("history", cid)
    assert "sent before this device was added" in before.stdout
    assert "haven backup restore" in before.stdout

    typo = await new.arun("backup", "restore", stdin=key[:-1] + ("2" if key[-1] != "2" else "3"))
    assert typo.returncode == 1 and "doesn't look right" in typo.stderr
    assert "Traceback" not in typo.stderr

    terminal = new.terminal("backup", "restore")
    try:
        terminal.expect("Recovery key: ")
        terminal.sendline(key)
        terminal.expect(r"Restored 3 messages from 1 conversations")
        assert _finish(terminal) == 0
    finally:
        terminal.close(force=True)
    assert key not in terminal.before  # the hidden prompt never echoed it

    after = await new.arun("history", cid)
    assert after.returncode == 0, after.stderr
    assert "Kim: Before your new phone, Sam." in after.stdout
    assert "you [urgent]: I need to talk tonight" in after.stdout
    assert "Kim: I'm here." in after.stdout
    assert "sent before this device was added" not in after.stdout
    [status] = await new.json("backup", "status")
    assert status == {"on": True, "backup_id": status["backup_id"], "kept_here": False}


async def test_link_a_device_after_comparing_codes_and_refuse_when_they_are_not_confirmed(
    cast: Cast,
) -> None:
    [status] = await cast.client.json("backup", "status")
    if not status["on"]:
        _enable(cast.client)
    cid = cast.conversation_id
    await cast.coach.json("send", cid, stdin="Written before the tablet.\n")

    tablet = await _new_device(cast, "sam-tablet", on_a_terminal=False)
    [me] = await tablet.json("me")
    tablet_id = me["device_id"]

    # Not confirmed: nothing is sent, and the tablet sees no approval.
    refused = cast.client.terminal("link", tablet_id)
    try:
        refused.expect(r"Compare this code with the one on your new device \(sam-tablet\): ")
        refused.expect(r"(\d{4} \d{4} \d{4})")
        refused.expect(re.escape(copy.LINK_QUESTION))
        refused.sendline("n")
        refused.expect("The codes differ, so nothing was sent")
        assert _finish(refused) == 1
    finally:
        refused.close(force=True)
    quick = await tablet.arun("link", "--wait", "--timeout", "0")  # looks once
    assert quick.returncode == 1 and "No approval has arrived" in quick.stderr

    waiting = tablet.terminal("link", "--wait", "--timeout", "60")
    approving = cast.client.terminal("link", tablet_id)
    try:
        waiting.expect(r"you should see this code: (\d{4} \d{4} \d{4})")
        shown_on_tablet = waiting.match.group(1)
        waiting.expect("Waiting for your approval")
        approving.expect(r"\(sam-tablet\): (\d{4} \d{4} \d{4})")
        assert approving.match.group(1) == shown_on_tablet
        approving.expect(re.escape(copy.LINK_QUESTION))
        approving.sendline("y")
        approving.expect("Approved: sam-tablet can now read your history")
        assert _finish(approving) == 0
        waiting.expect("Linked: this device can now read your history")
        assert _finish(waiting) == 0
    finally:
        waiting.close(force=True)
        approving.close(force=True)

    history = await tablet.arun("history", cid)
    assert "Kim: Written before the tablet." in history.stdout, history.stdout
    assert "sent before this device was added" not in history.stdout


async def test_a_reset_password_signs_in_again_to_the_same_history_and_backup_turns_off(
    cast: Cast,
) -> None:
    cid = cast.conversation_id
    [issued] = await cast.operator.json("accounts", "reset-code", cast.client_handle, admin=True)
    new_password = "a fresh password for sam"
    done = await cast.client.arun(
        "reset-password",
        "--handle",
        cast.client_handle,
        HAVEN_RESET_CODE=issued["code"],
        HAVEN_NEW_PASSWORD=new_password,
    )
    assert done.returncode == 0, done.stderr
    assert "Your new password is set" in done.stdout
    ended = await cast.client.arun("history", cid)
    assert ended.returncode == 4 and "haven login" in ended.stderr  # every session ended
    cast.client.password = new_password
    await cast.client.json("login", "--handle", cast.client_handle)
    again = await cast.client.arun("history", cid)
    assert "Kim: Before your new phone, Sam." in again.stdout, again.stdout

    off = await cast.client.arun("backup", "disable", "--yes")
    assert off.returncode == 0 and "Backup is off" in off.stdout
    [status] = await cast.client.json("backup", "status")
    assert status["on"] is False
