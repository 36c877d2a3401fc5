"""The WebSocket lifecycle against the gateway: auth, ready, replacement, revocation, acks."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.inprocess import AppStack
from tests.support.ws import closed_with, next_frame, ws_url
from tools.api import Api, Session, coach_and_client, seal_for

ACK_DEADLINE = 2.0


# One stack for this module's tests (tests/support/sharing.py), with this environment.
SHARED_STACK: dict[str, str] = {"HAVEN_ACK_DEADLINE_SECONDS": str(ACK_DEADLINE)}


async def test_header_auth_gets_ready_and_answers_ping(
    app_stack: AppStack, api: Api, operator: Session
) -> None:
    headers = {"Authorization": f"Bearer {operator.access_token}"}
    async with api.http.ws_connect(ws_url(app_stack), headers=headers) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        await ws.send_json({"type": "ping"})
        assert await next_frame(ws) == {"type": "pong"}
        await ws.send_str("not json")
        error = await next_frame(ws)
        assert error["type"] == "error" and error["code"] == "invalid_request"
        await ws.send_json({"type": "ping"})  # still open after a bad frame
        assert await next_frame(ws) == {"type": "pong"}


async def test_first_frame_auth_and_refusal_of_bad_tokens(
    app_stack: AppStack, api: Api, operator: Session
) -> None:
    async with api.http.ws_connect(ws_url(app_stack)) as ws:
        await ws.send_json({"type": "auth", "access_token": operator.access_token})
        assert await next_frame(ws) == {"type": "ready"}
    async with api.http.ws_connect(ws_url(app_stack)) as ws:
        await ws.send_json({"type": "auth", "access_token": "forged"})
        assert await closed_with(ws) == 4401


async def test_newer_socket_of_a_device_replaces_the_older_one(
    app_stack: AppStack, api: Api, operator: Session
) -> None:
    headers = {"Authorization": f"Bearer {operator.access_token}"}
    async with api.http.ws_connect(ws_url(app_stack), headers=headers) as old:
        assert await next_frame(old) == {"type": "ready"}
        async with api.http.ws_connect(ws_url(app_stack), headers=headers) as new:
            assert await next_frame(new) == {"type": "ready"}
            assert await closed_with(old) == 4409
            await new.send_json({"type": "ping"})
            assert await next_frame(new) == {"type": "pong"}


async def test_revoking_or_logging_out_closes_sockets_with_4403(
    app_stack: AppStack, api: Api, operator: Session
) -> None:
    tablet = await api.login(operator.handle, operator.password, name="tablet")
    async with api.http.ws_connect(
        ws_url(app_stack), headers={"Authorization": f"Bearer {tablet.access_token}"}
    ) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        revoked = await api.call(
            "DELETE", f"/v1/devices/{tablet.device_id}", token=operator.access_token
        )
        assert revoked.status == 204
        assert await closed_with(ws) == 4403
    async with api.http.ws_connect(
        ws_url(app_stack), headers={"Authorization": f"Bearer {operator.access_token}"}
    ) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        await api.call("DELETE", "/v1/sessions/current", token=operator.access_token)
        assert await closed_with(ws) == 4403


async def test_reauth_with_another_devices_token_closes_the_socket(
    app_stack: AppStack, api: Api, operator: Session
) -> None:
    other = await api.login(operator.handle, operator.password, name="other")
    async with api.http.ws_connect(
        ws_url(app_stack), headers={"Authorization": f"Bearer {operator.access_token}"}
    ) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        fresh = await api.call(
            "POST", "/v1/sessions/refresh", {"refresh_token": operator.refresh_token}
        )
        await ws.send_json({"type": "auth", "access_token": fresh.body["access_token"]})
        await ws.send_json({"type": "ping"})
        assert await next_frame(ws) == {"type": "pong"}  # a fresh token of the same device: fine
        await ws.send_json({"type": "auth", "access_token": other.access_token})
        assert await closed_with(ws) == 4401


async def test_send_over_the_socket_answers_accepted_or_error_frames(
    app_stack: AppStack, api: Api, operator: Session
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "ws")
    async with api.http.ws_connect(
        ws_url(app_stack), headers={"Authorization": f"Bearer {client.access_token}"}
    ) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        urgent = seal_for(client, cid, devices, urgent=True)
        await ws.send_json({"type": "send", "conversation_id": cid, "envelope": urgent})
        accepted = await next_frame(ws)
        assert accepted["type"] == "accepted"
        assert accepted["message_id"] == urgent["message_id"]
        assert accepted["crisis_resources"]
        stale = seal_for(client, cid, {client.device_id: client.keys.kx_public}, urgent=True)
        await ws.send_json({"type": "send", "conversation_id": cid, "envelope": stale})
        error = await next_frame(ws)
        assert error["type"] == "error" and error["code"] == "device_mismatch"
        assert error["missing_devices"] == [coach.device_id]
        assert error["crisis_resources"]


async def test_an_unacked_message_counts_as_failed_after_the_ack_deadline(
    app_stack: AppStack, api: Api, operator: Session, mongo_client, isolation: tuple[str, str]
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "noack")
    pending = mongo_client[f"{isolation[1]}_notification"]["pending"]
    async with api.http.ws_connect(
        ws_url(app_stack), headers={"Authorization": f"Bearer {coach.access_token}"}
    ) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        envelope = seal_for(client, cid, devices)
        sent = await api.call(
            "POST", f"/v1/conversations/{cid}/messages", {"envelope": envelope}, client.access_token
        )
        assert sent.status == 202
        frame = await next_frame(ws)
        while frame["type"] != "message":
            frame = await next_frame(ws)
        delivered = asyncio.get_running_loop().time()
        assert frame["message"]["message_id"] == envelope["message_id"]
        assert await pending.find_one({"device_id": coach.device_id}) is None  # not yet
        doc = await _wait_for_failure(pending, coach.device_id, ACK_DEADLINE + 5)
        waited = asyncio.get_running_loop().time() - delivered
        assert waited >= ACK_DEADLINE - 0.5, waited  # not before its deadline (HAVEN_ACK_…)
        assert doc["message_id"] == envelope["message_id"]
        assert doc["reason"] == "ack_timeout"


async def _wait_for_failure(pending, device_id: str, timeout: float) -> dict:
    try:
        async with asyncio.timeout(timeout):
            while (doc := await pending.find_one({"device_id": device_id})) is None:
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"no ack_timeout within {timeout}s: is HAVEN_ACK_DEADLINE_SECONDS honoured?")
    return doc
