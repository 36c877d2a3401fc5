"""Pacing is not a broken connection (issue 25 item 4, issue 18 item 10): a burst past the
send budget in `haven chat` is kept in the outbox and sent when `Retry-After` has passed, with
a calm "Sending shortly" — never "Not sent", never a reconnect, the socket never closed."""

from __future__ import annotations

import json
from pathlib import Path

import pexpect
import pytest

from haven_client import copy as sdk_copy
from haven_client.cli import copy
from tests.support.cli import onboard_fast
from tools.stack import Stack

BURST = 8


@pytest.fixture
def stack_overrides() -> dict[str, str]:
    # Three at once, then one every 0.5 s: a refusal says `Retry-After: 1` (whole seconds).
    return {"HAVEN_RATE_SEND": "120/minute,3"}


async def test_a_burst_past_the_send_budget_is_paced_not_dropped(
    stack: Stack, tmp_path: Path
) -> None:
    cast = await onboard_fast(stack.gateway_url, tmp_path, "pace")
    chat = cast.client.chat(cast.conversation_id)
    try:
        chat.expect("connected")
        for n in range(BURST):
            chat.sendline(f"line {n} of the burst")
        seen = ""
        while seen.count("✓ sent") < BURST:
            chat.expect_exact("✓ sent", timeout=40)
            seen += chat.before + chat.after
        notices = (sdk_copy.SENDING_SHORTLY.split(".")[0], copy.SENDING_REST.split(".")[0])
        assert any(notice in seen for notice in notices), seen
        chat.sendline("/quit")
        chat.expect(pexpect.EOF)
    finally:
        chat.close(force=True)
    seen += chat.before or ""
    for text in ("Not sent", copy.CONNECTION_LOST, "Retry-After", "retry_after"):
        assert text not in seen, text
    history = await cast.coach.json("history", cast.conversation_id, "--limit", "50")
    bodies = [m.get("body") for m in history if m["event"] == "ReceivedMessage"]
    assert bodies == [f"line {n} of the burst" for n in range(BURST)], json.dumps(bodies)
    closes = [line for line in stack.log_lines("gateway") if line.get("event") == "socket_closed"]
    assert all(line.get("code") != 4429 for line in closes), closes
