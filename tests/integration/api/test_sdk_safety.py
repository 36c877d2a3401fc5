"""The SDK's safety calls against the running services: pausing with a neutral template, the
agreement, per-conversation settings, a default device name without the hostname, and the
panic exit that revokes the device and leaves no keystore behind."""

from __future__ import annotations

import platform
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from haven_client import ConsentRequired, Paused, RelationshipChanged, pause_template
from haven_client.copy import PANIC_DONE, PAUSED
from haven_client.session import DEFAULT_DEVICE_NAME
from tests.support.inprocess import AppStack
from tests.support.sdk import SdkDevice, coach_and_client
from tools.api import Api, Session


@pytest.fixture
async def pair(
    api: Api, operator: Session, app_stack: AppStack, tmp_path: Path
) -> AsyncIterator[tuple[SdkDevice, SdkDevice, str]]:
    handles = ("coach_sdk", "client_sdk")
    async with coach_and_client(api, operator, app_stack.gateway_url, tmp_path, handles) as pair:
        yield pair


async def test_sdk_pause_agreement_settings_and_panic(
    pair: tuple[SdkDevice, SdkDevice, str], api: Api, operator: Session, tmp_path: Path
) -> None:
    coach, client, cid = pair
    me = await client.client.me()
    assert [d.name for d in me.devices] == [DEFAULT_DEVICE_NAME]
    assert platform.node() not in DEFAULT_DEVICE_NAME

    reason = pause_template("time_off")
    await coach.client.safety.pause(cid, reason)
    await client.wait_for(
        lambda evs: any(isinstance(e, RelationshipChanged) and e.status == "paused" for e in evs)
    )
    [paused] = [e for e in client.events if isinstance(e, RelationshipChanged)]
    assert paused.reason == reason
    with pytest.raises(Paused) as refused:
        await client.client.send_text(cid, "hello?")
    assert refused.value.reason == reason and refused.value.notice == PAUSED
    assert paused.notice == PAUSED
    await coach.client.safety.resume(cid)
    await client.client.send_text(cid, "hello again")

    published = await api.call(
        "PUT", "/v1/admin/agreement", {"version": "v1", "text": "Terms."}, operator.access_token
    )
    assert published.status == 200
    with pytest.raises(ConsentRequired) as consent:
        await client.client.send_text(cid, "before agreeing")
    assert consent.value.version == "v1"
    agreement = await client.client.safety.agreement()
    assert agreement.accepted is False
    assert (await client.client.safety.accept_agreement(agreement.version)).accepted
    await client.client.send_text(cid, "after agreeing")

    settings = await client.client.safety.update_settings(cid, share_read_receipts=True)
    assert settings.share_read_receipts is True and settings.notification_detail == "generic"

    keystore = tmp_path / "client.keystore"
    assert keystore.exists()
    device_id = client.client.store.state.device_id
    assert await client.client.panic() == PANIC_DONE
    assert not keystore.exists() and not keystore.with_name("client.keystore.lock").exists()
    seen_by_coach = await coach.client.device(str(device_id))
    assert seen_by_coach.revoked_at is not None
