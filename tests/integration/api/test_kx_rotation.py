"""The SDK rotates its `kx` key on a schedule (weekly by default) and drops an old private key
once no kept message can need it, through the running services: a message wrapped for the old
key still opens after the rotation; a conversation without retention keeps every old key; once
the longest retention (plus a day's grace) has passed since a key was retired, it is gone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from haven_client.events import ReceivedMessage
from tests.support.inprocess import AppStack
from tests.support.sdk import SdkDevice
from tools.api import Api, Session

PASSWORD = "a long enough password 1"


async def account(base: str, tmp: Path, handle: str, code: str) -> SdkDevice:
    device = await SdkDevice.create(base, tmp, handle)
    await device.client.register(handle, PASSWORD, code, handle.title())
    await device.client.login(handle, PASSWORD)
    return device


def at(device: SdkDevice, moment: datetime) -> None:
    """The device's wall clock, as the rotation schedule reads it."""
    device.client.session.clock = lambda: moment


async def server_kx(api: Api, device: SdkDevice) -> tuple[str, int]:
    token = await device.client.transport.access_token()
    detail = await api.call(
        "GET", f"/v1/devices/{device.client.store.state.device_id}", token=token
    )
    return detail.body["kx_key"], len(detail.body["previous_kx_keys"])


async def test_kx_keys_rotate_weekly_and_old_ones_go_once_no_kept_message_needs_them(
    api: Api, operator: Session, app_stack: AppStack, tmp_path: Path
) -> None:
    base, now = app_stack.gateway_url, datetime.now(UTC)
    coach = await account(base, tmp_path, "coach_k", await api.invite(operator, "coach"))
    coach_session = await api.login("coach_k", PASSWORD)
    client = await account(base, tmp_path, "client_k", await api.invite(coach_session, "client"))
    try:
        [conversation] = await client.client.conversations()
        cid = conversation.conversation_id
        await coach.client.send_text(cid, "before the rotation")
        first_kx, _ = await server_kx(api, client)

        at(client, now + timedelta(days=6))
        await client.client.resume()
        assert await server_kx(api, client) == (first_kx, 0)  # not due yet

        at(client, now + timedelta(days=8))
        await client.client.resume()
        second_kx, history = await server_kx(api, client)
        assert second_kx != first_kx and history == 1  # rotated, announced to the server
        messages, _ = await client.client.history(cid, after_seq=0)
        opened = [m.body for m in messages if isinstance(m, ReceivedMessage)]
        assert opened == ["before the rotation"]  # wrapped for the old key: still opens

        # No retention in the conversation: every old key stays, however long ago.
        at(client, now + timedelta(days=40))
        await client.client.resume()
        assert len(client.client.store.state.old_kx) == 2

        # A 1-day retention: keys retired more than a day and a day's grace ago go.
        await client.client.safety.update_settings(cid, retention_days=1)
        at(client, now + timedelta(days=42))
        await client.client.resume()
        assert client.client.store.state.old_kx == []
        assert (await server_kx(api, client))[1] == 2  # no rotation: the key is 2 days old
    finally:
        for device in (coach, client):
            await device.close()
