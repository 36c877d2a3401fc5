"""The companion at its hardest moments (issues 25 and 18), on pseudo-terminals against the
real services: a safety number that does not match, a counterpart with no device after a
panic, urgent while paused, copy that owns its whole line, coach output in sentences, and
what the chat must show (not-for-emergencies, new sign-ins, retention, key changes)."""

from __future__ import annotations

import re
from pathlib import Path

import pexpect
import pytest

from haven_client import copy as sdk_copy
from haven_client.cli import copy
from tests.support.cli import Cast, Person, onboard_fast
from tools.stack import Stack

NOT_IN_A_CHAT = ("Traceback", "safety_number_failed", "Not sent (", "Try again in a moment")


@pytest.fixture(scope="module")
async def cast(shared_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Cast:
    return await onboard_fast(shared_stack.gateway_url, tmp_path_factory.mktemp("hard"), "hard")


def quit_cleanly(chat: pexpect.spawn) -> None:
    chat.sendline("/quit")
    chat.expect(pexpect.EOF)
    chat.close()
    assert chat.exitstatus == 0
    for text in NOT_IN_A_CHAT:
        assert text not in (chat.before or ""), text


def test_item1_a_safety_number_that_does_not_match_is_answered_calmly(cast: Cast) -> None:
    # The number as the command prints it (in-process: the same output), then the mismatch
    # as a person sees it on a terminal.
    shown = cast.client.run("safety-number", cast.conversation_id)
    assert shown.returncode == 0, shown.stderr
    digits = re.findall(r"((?:\d{5} ){11}\d{5})", shown.stdout)[0].split()
    wrong = [*digits[:-1], "00000" if digits[-1] != "00000" else "11111"]

    refused = cast.client.terminal("safety-number", cast.conversation_id, "--verify", *wrong)
    refused.expect(pexpect.EOF)
    refused.close()
    assert refused.exitstatus != 0
    assert "Traceback" not in refused.before
    assert copy.SAFETY_MISMATCH.format(name="Kim") in " ".join(refused.before.split())

    verified = cast.client.run("safety-number", cast.conversation_id, "--verify", *digits)
    assert verified.returncode == 0, verified.stderr
    said = verified.stdout + verified.stderr
    assert copy.SAFETY_VERIFIED.format(name="Kim") in " ".join(said.split())
    assert "--verify" not in said  # verified: no more telling you to verify


def test_item1_an_unexpected_failure_is_one_calm_line_and_a_log_file(cast: Cast) -> None:
    broken = cast.client.terminal("me", HAVEN_SERVER="http://[::1")  # a URL no parser takes
    broken.expect(pexpect.EOF)
    broken.close()
    assert broken.exitstatus != 0
    assert "Traceback" not in broken.before
    log = cast.client.keystore.parent / "haven.log"
    assert copy.UNEXPECTED.format(log=log) in " ".join(broken.before.split())
    assert "Traceback" in log.read_text()  # the details are kept, for the operator


def test_item18_8_every_chat_opens_with_not_for_emergencies_and_the_resources(
    cast: Cast,
) -> None:
    chat = cast.client.chat(cast.conversation_id)
    try:
        chat.expect_exact(copy.NOT_FOR_EMERGENCIES)
        chat.expect_exact("Night Line: 0800 111 0 111")
        chat.expect("connected")
        quit_cleanly(chat)
    finally:
        chat.close(force=True)


async def test_item18_11_a_chat_named_by_handle_shows_sign_ins_retention_and_deletions(
    shared_stack: Stack, tmp_path: Path
) -> None:
    # A cast of its own: the new sign-in changes the safety number the others rely on.
    cast = await onboard_fast(shared_stack.gateway_url, tmp_path, "named")
    # Sam's tablet, its keystore made beforehand at argon2id's floor (not the CLI's default).
    tablet_keystore = (await Person.create(cast.client.server, tmp_path, "tablet", "")).keystore
    chat = cast.client.chat(cast.coach_handle)  # the counterpart's handle names it
    try:
        chat.expect("connected")
        tablet = cast.client.run("--keystore", str(tablet_keystore), "login",
                                 "--handle", cast.client_handle)  # fmt: skip
        assert tablet.returncode == 0, tablet.stderr
        chat.expect_exact(copy.NEW_SIGN_IN.split(":")[0])
        changed = cast.coach.run("settings", cast.client_handle, "--retention-days", "30")
        assert changed.returncode == 0, changed.stderr
        chat.expect_exact(copy.RETENTION_CHANGED.format(days=30))
        sent = cast.coach.run("--json", "send", cast.client_handle, stdin="to be deleted")
        assert sent.returncode == 0, sent.stderr
        chat.expect(r"Kim( \[[a-z ]+\])?: to be deleted")  # marked: Sam's keys changed
        message_id = sent.stdout.split('"message_id": "')[1].split('"')[0]
        gone = cast.coach.run("delete-message", cast.client_handle, message_id, "--yes")
        assert gone.returncode == 0, gone.stderr
        chat.expect(r"\[deleted\]")
        quit_cleanly(chat)
    finally:
        chat.close(force=True)


def test_items3_and_5_urgent_while_paused_is_not_delivered_and_kept_as_a_draft(
    cast: Cast,
) -> None:
    chat = cast.client.chat(cast.conversation_id)
    try:
        chat.expect("connected")
        paused = cast.coach.run("pause", cast.conversation_id, "--template", "time_off")
        assert paused.returncode == 0, paused.stderr
        chat.expect_exact(sdk_copy.PAUSED)
        chat.sendline("are you there?")
        chat.expect_exact(copy.PAUSED_NOT_SENT)
        chat.sendline("/urgent I am scared tonight")
        chat.expect_exact(copy.URGENT_NOT_DELIVERED)
        chat.expect_exact(copy.CRISIS_TITLE)
        chat.expect_exact("Night Line: 0800 111 0 111")
        chat.expect_exact(copy.DRAFT_KEPT)

        assert cast.coach.run("resume", cast.conversation_id).returncode == 0
        chat.expect_exact(copy.RESUMED)
        chat.sendline("/retry")
        chat.expect_exact("✓ sent (urgent)")
        quit_cleanly(chat)
    finally:
        chat.close(force=True)
    history = cast.coach.run("history", cast.conversation_id)
    assert "[urgent]: I am scared tonight" in history.stdout


def test_item7_coach_output_is_sentences_and_the_chat_pauses_and_resumes(cast: Cast) -> None:
    help_text = cast.coach.run("pause", "--help").stdout
    assert "taking some time off" in " ".join(help_text.split())
    saved = cast.coach.run(
        "availability", "set", "--weekly", "mon-fri 09:00-17:00", "--reply-within", "24h",
        "--time-zone", "Europe/Berlin",
    )  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    for argv in (
        ("availability", "show", cast.coach_handle),
        ("notifications", "show"),
        ("notifications", "quiet-hours", "21:00", "07:00", "--tz", "Europe/Berlin"),
    ):
        shown = cast.coach.run(*argv)
        assert shown.returncode == 0, (argv, shown.stderr)
        assert "{" not in shown.stdout and "'" not in shown.stdout, shown.stdout
    assert "Monday to Friday" in cast.coach.run("availability", "show", cast.coach_handle).stdout

    coach = cast.coach.chat(cast.conversation_id)
    client = cast.client.chat(cast.conversation_id)
    try:
        for chat in (coach, client):
            chat.expect("connected")
        coach.sendline("/pause")
        client.expect_exact(sdk_copy.PAUSED)
        coach.sendline("/resume")
        client.expect_exact(copy.RESUMED)
        client.sendline("last words before closing")
        coach.expect("Sam: last words before closing")
        quit_cleanly(client)
    finally:
        client.close(force=True)
    try:
        quit_cleanly(coach)
    finally:
        coach.close(force=True)
    again = cast.coach.chat(cast.conversation_id)
    try:
        again.expect("connected")
        opened = again.before  # the backlog
        again.sendline("/help")
        again.expect_exact(copy.CHAT_HELP)
        shown = opened + again.before  # and whatever the sync after connecting added
        assert shown.count("last words before closing") == 1, shown
        quit_cleanly(again)
    finally:
        again.close(force=True)


async def test_item2_and_journey_a_client_panics_while_the_coach_chats(
    shared_stack: Stack, tmp_path: Path
) -> None:
    made = await onboard_fast(shared_stack.gateway_url, tmp_path, "jour")
    await made.client.json("send", made.conversation_id, stdin="one\n")
    await made.client.json("send", made.conversation_id, stdin="two\n")
    coach = made.coach.chat(made.conversation_id)
    try:
        coach.expect("connected")
        panicked = await made.client.arun("panic", "--yes")
        assert panicked.returncode == 0, panicked.stderr
        assert not (made.directory / "haven.log").exists()  # nothing of Haven stays
        coach.sendline("are you ok, Sam?")
        coach.expect_exact(copy.NO_DEVICE.format(name="Sam"))
        coach.expect_exact("✓ sent")
        coach.sendline("I'll be here")
        coach.expect_exact("✓ sent")

        phone = await Person.create(
            made.client.server, made.directory, "phone", "client-password-1"
        )
        await phone.json("login", "--handle", made.client_handle)
        coach.expect_exact(copy.KEYS_CHANGED.format(name="Sam"))
        coach.sendline("welcome back")
        coach.expect_exact("✓ sent")
        quit_cleanly(coach)
    finally:
        coach.close(force=True)
    history = await phone.arun("history", made.conversation_id)
    said = "earlier messages were sent before this device was added"
    assert history.stdout.count(said) == 1, history.stdout
    assert "Kim: welcome back" in history.stdout


def test_item6_registration_shows_the_rules_first_and_leaves_no_keystore_on_failure(
    cast: Cast,
) -> None:
    newcomer = Person(cast.client.server, cast.directory / "newcomer.keystore", "")
    unset = {"HAVEN_PASSWORD": "", "HAVEN_KEYSTORE_PASSPHRASE": ""}
    short = newcomer.terminal("register", "--handle", "hard_new", "--invite", "nope", **unset)
    short.expect_exact(copy.PASSWORD_RULE)  # before the prompts, not after a refusal
    short.expect("New password: ")
    short.sendline("short")
    short.expect("again: ")
    short.sendline("short")
    short.expect(pexpect.EOF)
    short.close()
    assert short.exitstatus != 0 and copy.PASSWORD_RULE in " ".join(short.before.split())
    assert not newcomer.keystore.exists()

    refused = newcomer.terminal("register", "--handle", "hard_new", "--invite", "nope", **unset)
    for prompt in ("New password: ", "again: "):
        refused.expect(prompt)
        refused.sendline("a long enough password")
    refused.expect_exact(copy.PASSPHRASE_RULE)  # how it differs from the password
    for prompt in ("New keystore passphrase: ", "passphrase again: "):
        refused.expect(prompt)
        refused.sendline("a keystore passphrase")
    refused.expect(pexpect.EOF)
    refused.close()
    assert refused.exitstatus != 0 and "Traceback" not in refused.before
    assert not newcomer.keystore.exists()  # a failed registration leaves nothing behind


async def test_item3_a_coach_who_chose_it_is_told_of_an_urgent_attempt_without_its_words(
    shared_stack: Stack, tmp_path: Path
) -> None:
    made = await onboard_fast(shared_stack.gateway_url, tmp_path, "told")
    [settings] = await made.coach.json("notifications", "urgent-while-paused", "on")
    assert settings["urgent_while_paused"] is True
    coach = made.coach.chat(made.conversation_id)
    try:
        coach.expect("connected")
        coach.sendline("/pause")
        coach.expect_exact(sdk_copy.PAUSED)
        refused = await made.client.arun(
            "send", made.conversation_id, "--urgent", stdin="the words stay with me"
        )
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        said = " ".join(refused.stderr.split())
        assert copy.URGENT_NOT_DELIVERED_COACH_TOLD in said
        assert "Night Line: 0800 111 0 111" in said  # the resources, with the refusal
        coach.expect_exact(sdk_copy.URGENT_ATTEMPT)
        quit_cleanly(coach)
    finally:
        coach.close(force=True)
    assert "the words stay with me" not in (coach.before or "")
