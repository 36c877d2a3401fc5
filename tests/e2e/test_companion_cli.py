"""`haven` and `haven-admin` as processes against the real services: an operator sets up,
a coach and a client onboard, then talk through two `haven chat` sessions on pseudo-terminals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pexpect
import pytest
from pymongo import AsyncMongoClient

from haven_client.cli import copy
from shared.events import utcnow
from tests.support.cli import Cast, Person, onboard, onboard_fast
from tools.stack import Stack


@pytest.fixture(scope="module")
async def cast(shared_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Cast:
    """A coach and a client (made with the SDK: the next test onboards with the CLIs)."""
    return await onboard_fast(shared_stack.gateway_url, tmp_path_factory.mktemp("cli"), "cli")


def test_two_chats_talk_to_each_other_live_with_read_markers_and_urgent_help(cast: Cast) -> None:
    coach = cast.coach.chat(cast.conversation_id)
    client = cast.client.chat(cast.conversation_id)
    try:
        for chat in (coach, client):
            chat.expect("Chat with")
            chat.expect("connected")
        client.sendline("hello from the client's terminal")
        coach.expect(r"Sam: hello from the client's terminal")
        client.expect(r"Kim read up to #\d+")  # the coach's chat marked it read
        coach.sendline("hi Sam, I'm here")
        client.expect(r"Kim: hi Sam, I'm here")

        client.sendline("/urgent I am not safe tonight")
        client.expect(copy.CRISIS_TITLE)
        client.expect("Night Line: 0800 111 0 111")
        coach.expect(r"Sam \[urgent\]: I am not safe tonight")

        for chat in (coach, client):
            chat.sendline("/quit")
            chat.expect(pexpect.EOF)
    finally:
        for chat in (coach, client):
            chat.close(force=True)
    assert coach.exitstatus == 0 and client.exitstatus == 0


async def test_send_reads_stdin_and_history_shows_both_sides_decrypted(cast: Cast) -> None:
    await cast.coach.json("send", cast.conversation_id, stdin="written in a pipe\nsecond line\n")

    coach_view = await cast.coach.json("history", cast.conversation_id, "--limit", "50")
    client_view = await cast.client.json("history", cast.conversation_id, "--limit", "50")

    assert [m["body"] for m in client_view if m["event"] == "ReceivedMessage"][-1] == (
        "written in a pipe\nsecond line"
    )
    assert [m["message_id"] for m in coach_view] == [m["message_id"] for m in client_view]
    human = await cast.client.arun("history", cast.conversation_id)
    assert "Kim: written in a pipe" in human.stdout


async def test_safety_numbers_match_and_verify(cast: Cast) -> None:
    [coach_number] = await cast.coach.json("safety-number", cast.conversation_id)
    [client_number] = await cast.client.json("safety-number", cast.conversation_id)
    assert coach_number == client_number and not client_number["verified"]

    digits = client_number["safety_number"].replace(" ", "")
    [verified] = await cast.client.json("safety-number", cast.conversation_id, "--verify", digits)
    assert verified["verified"] is True


async def test_operator_lists_accounts_and_reads_the_audit_log(cast: Cast) -> None:
    accounts = await cast.operator.json("accounts", "list", "--role", "coach", admin=True)
    assert cast.coach_handle in [a["handle"] for a in accounts]
    assert {a["role"] for a in accounts} == {"coach"}

    entries = await cast.operator.json("audit", "--limit", "50", admin=True)
    assert "crisis_resources_changed" in [e["type"] for e in entries]
    [shown] = await cast.operator.json("crisis-resources", "show", admin=True)
    assert shown["name"] == "Night Line"


async def test_friendly_errors_for_a_stack_down_and_a_wrong_password(cast: Cast) -> None:
    down = await cast.client.arun("me", HAVEN_SERVER="http://127.0.0.1:9")
    assert down.returncode == 3
    assert down.stderr.strip().startswith("haven: The Haven server at 127.0.0.1:9 does not answer.")
    assert "Traceback" not in down.stderr

    stranger = await Person.create(cast.client.server, cast.directory, "wrong", "not-the-pw-1")
    wrong = await stranger.arun("login", "--handle", cast.client_handle)
    assert wrong.returncode == 4
    assert wrong.stderr.strip() == f"haven: {copy.WRONG_PASSWORD}"


async def test_a_client_accepts_a_second_coach_s_invite(cast: Cast) -> None:
    [invite] = await cast.operator.json("invite-coach", admin=True)
    second = await Person.create(cast.coach.server, cast.directory, "coach2", "coach2-password-1")
    await second.json("register", "--handle", "cli_lee", "--invite", invite["code"])
    await second.json("login", "--handle", "cli_lee")
    [client_invite] = await second.json("invite")

    # `--`: a code may begin with "-" (base64url), which would read as an option.
    [accepted] = await cast.client.json("accept", "--", client_invite["code"])

    listing = await cast.client.json("conversations")
    assert accepted["conversation_id"] in [c["conversation_id"] for c in listing]
    assert len(listing) == 2


async def test_a_revoked_device_and_an_expired_session_are_told_to_sign_in_again(
    cast: Cast, shared_mongo: AsyncMongoClient, shared_names: tuple[str, str]
) -> None:
    laptop = await Person.create(cast.client.server, cast.directory, "laptop", cast.client.password)
    [signed_in] = await laptop.json("login", "--handle", cast.client_handle)
    tablet = await Person.create(cast.client.server, cast.directory, "tablet", cast.client.password)
    [tablet_in] = await tablet.json("login", "--handle", cast.client_handle)
    devices = await cast.client.json("devices")
    assert signed_in["device_id"] in [d["device_id"] for d in devices]

    await cast.client.json("revoke-device", signed_in["device_id"])
    revoked = await laptop.arun("me")
    tokens = shared_mongo[f"{shared_names[1]}_gateway"]["refresh_tokens"]
    await tokens.update_many(
        {"device_id": tablet_in["device_id"]}, {"$set": {"expires_at": utcnow() - timedelta(1)}}
    )
    expired = await tablet.arun("me")

    assert revoked.returncode == 4
    assert revoked.stderr.strip() == f"haven: {copy.REVOKED}"
    assert expired.returncode == 4
    assert expired.stderr.strip() == f"haven: {copy.EXPIRED}"


async def test_change_password_then_sign_in_with_the_new_one(cast: Cast) -> None:
    new = "coach-password-2"
    changed = await cast.coach.arun(
        "change-password", "--keep-other-devices", HAVEN_NEW_PASSWORD=new
    )
    assert changed.returncode == 0, changed.stderr
    old = await cast.coach.arun("login", "--handle", cast.coach_handle)
    assert copy.WRONG_PASSWORD in old.stderr
    cast.coach.password = new
    await cast.coach.json("login", "--handle", cast.coach_handle)


async def test_an_operator_onboards_a_coach_who_onboards_a_client_with_the_clis_alone(
    shared_stack: Stack, tmp_path: Path
) -> None:
    """Exactly as docs/deploy.md's first hour tells an operator to do it."""
    made = await onboard(shared_stack.gateway_url, tmp_path, "first")
    [coach_side] = await made.coach.json("conversations")
    assert coach_side["conversation_id"] == made.conversation_id
    assert {p["handle"] for p in coach_side["participants"]} == {"first_kim", "first_sam"}


async def test_ending_makes_the_conversation_read_only_and_deactivation_signs_out(
    cast: Cast,
) -> None:
    await cast.client.json("end", cast.conversation_id, "--yes")
    refused = await cast.coach.arun("send", cast.conversation_id, stdin="still there?")
    assert refused.returncode == 2 and "(conflict)" in refused.stderr
    history = await cast.coach.json("history", cast.conversation_id)
    assert history  # still readable

    await cast.operator.json("accounts", "deactivate", cast.client_handle, "--yes", admin=True)
    gone = await cast.client.arun("me")
    assert gone.returncode == 4 and copy.REVOKED in gone.stderr
    [listed] = [
        a
        for a in await cast.operator.json("accounts", "list", "--role", "client", admin=True)
        if a["handle"] == cast.client_handle
    ]
    assert listed["status"] == "deactivated"
