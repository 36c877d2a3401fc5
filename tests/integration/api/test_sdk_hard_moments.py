"""The SDK at the companion's hardest moments, through the running services (issue 25 items
2-4, issue 18 item 10): sending to a counterpart with no device, urgent while paused, and a
burst past the send budget kept in the outbox instead of refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from haven_client import Paused
from haven_client.events import ReceivedMessage, SendingShortly, UrgentAttempt
from tests.support.inprocess import AppStack
from tests.support.sdk import SdkDevice, coach_and_client
from tools.api import Api, Session

# One stack for this module's tests (tests/support/sharing.py); the send budget is per
# account, and each test has accounts of its own.
SHARED_STACK: dict[str, str] = {"HAVEN_RATE_SEND": "40/minute,3"}


@pytest.fixture
async def pair(
    api: Api, operator: Session, app_stack: AppStack, tmp_path: Path
) -> AsyncIterator[tuple[SdkDevice, SdkDevice, str]]:
    tag = uuid.uuid4().hex[:8]
    handles = (f"coach_hard_{tag}", f"client_hard_{tag}")
    async with coach_and_client(
        api, operator, app_stack.gateway_url, tmp_path, handles, names=("Kim", "Sam")
    ) as pair:
        yield pair


async def test_item2_a_send_to_a_counterpart_with_no_device_still_goes_out(
    pair: tuple[SdkDevice, SdkDevice, str],
) -> None:
    coach, client, cid = pair
    await client.client.panic()
    await asyncio.sleep(0.5)  # the coach's socket hears devices_changed

    receipt = await coach.client.send(cid, {"type": "text", "body": "are you ok?"})

    assert receipt.message_id and receipt.recipients_absent == ["Sam"]
    async with asyncio.timeout(15):  # accepted now, stored by messaging a moment later
        while not (page := (await coach.client.history(cid, after_seq=0, limit=5))[0]):
            await asyncio.sleep(0.2)
    assert [e.body for e in page if isinstance(e, ReceivedMessage)] == ["are you ok?"], page


async def test_item3_urgent_while_paused_reaches_the_coach_only_if_they_chose_it(
    pair: tuple[SdkDevice, SdkDevice, str],
) -> None:
    coach, client, cid = pair
    await coach.client.safety.pause(cid, None)
    with pytest.raises(Paused) as refused:
        await client.client.send(cid, {"type": "text", "body": "help"}, urgent=True)
    assert refused.value.crisis_resources  # shown with the refusal, never silently
    assert refused.value.coach_notified is False  # off by default: the coach is not told

    settings = await coach.client.update_notification_settings(urgent_while_paused=True)
    assert settings.urgent_while_paused is True
    with pytest.raises(Paused) as told:
        await client.client.send(cid, {"type": "text", "body": "please"}, urgent=True)
    assert told.value.coach_notified is True
    await coach.wait_for(lambda evs: any(isinstance(e, UrgentAttempt) for e in evs))
    [notice] = [e for e in coach.events if isinstance(e, UrgentAttempt)]
    assert notice == UrgentAttempt(conversation_id=cid)  # no words, no message id
    assert [e for e in client.events if isinstance(e, UrgentAttempt)] == []


async def test_items4_and_18_10_a_burst_is_paced_from_retry_after_and_all_arrive(
    pair: tuple[SdkDevice, SdkDevice, str],
) -> None:
    coach, client, cid = pair
    for n in range(7):
        await client.client.send(cid, {"type": "text", "body": f"m{n}"}, via_websocket=True)

    await coach.wait_for(lambda evs: len([e for e in evs if isinstance(e, ReceivedMessage)]) >= 7)
    assert coach.bodies() == [f"m{n}" for n in range(7)]
    notices = [e for e in client.events if isinstance(e, SendingShortly)]
    assert notices and all(n.retry_after > 0 for n in notices)
    closed = [e for e in client.events if getattr(e, "state", None) in ("disconnected", "closed")]
    assert closed == []
