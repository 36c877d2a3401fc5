"""The WebSocket lifecycle against the running gateway: auth, ready, replacement, revocation."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.support.api import Api, Session, device_keys_of, seal_for
from tests.support.stack import Stack


async def coach_and_client(
    api: Api, operator: Session, tag: str
) -> tuple[Session, Session, str, dict[str, bytes]]:
    """A new coach and client, their conversation, and its devices as the client sees them."""
    coach = await api.onboard(operator, "coach", f"coach_{tag}")
    client = await api.onboard(coach, "client", f"client_{tag}")
    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    cid = listed.body["conversations"][0]["conversation_id"]
    devices = await device_keys_of(api, client, coach.account_id, client.account_id)
    return coach, client, cid, devices


def ws_url(stack: Stack) -> str:
    return stack.gateway_url.replace("http://", "ws://") + "/v1/ws"


async def next_frame(ws: aiohttp.ClientWebSocketResponse, timeout: float = 10) -> dict:
    msg = await ws.receive(timeout=timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, (msg.type, msg.data, ws.close_code)
    return msg.json()


async def closed_with(ws: aiohttp.ClientWebSocketResponse, timeout: float = 10) -> int | None:
    while True:
        msg = await ws.receive(timeout=timeout)
        if msg.type == aiohttp.WSMsgType.CLOSE:
            return int(msg.data)  # the code the server sent in its close frame
        if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return ws.close_code


async def test_header_auth_gets_ready_and_answers_ping(
    stack: Stack, api: Api, operator: Session
) -> None:
    headers = {"Authorization": f"Bearer {operator.access_token}"}
    async with api.http.ws_connect(ws_url(stack), headers=headers) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        await ws.send_json({"type": "ping"})
        assert await next_frame(ws) == {"type": "pong"}
        await ws.send_str("not json")
        error = await next_frame(ws)
        assert error["type"] == "error" and error["code"] == "invalid_request"
        await ws.send_json({"type": "ping"})  # still open after a bad frame
        assert await next_frame(ws) == {"type": "pong"}


async def test_first_frame_auth_and_refusal_of_bad_tokens(
    stack: Stack, api: Api, operator: Session
) -> None:
    async with api.http.ws_connect(ws_url(stack)) as ws:
        await ws.send_json({"type": "auth", "access_token": operator.access_token})
        assert await next_frame(ws) == {"type": "ready"}
    async with api.http.ws_connect(ws_url(stack)) as ws:
        await ws.send_json({"type": "auth", "access_token": "forged"})
        assert await closed_with(ws) == 4401


async def test_newer_socket_of_a_device_replaces_the_older_one(
    stack: Stack, api: Api, operator: Session
) -> None:
    headers = {"Authorization": f"Bearer {operator.access_token}"}
    async with api.http.ws_connect(ws_url(stack), headers=headers) as old:
        assert await next_frame(old) == {"type": "ready"}
        async with api.http.ws_connect(ws_url(stack), headers=headers) as new:
            assert await next_frame(new) == {"type": "ready"}
            assert await closed_with(old) == 4409
            await new.send_json({"type": "ping"})
            assert await next_frame(new) == {"type": "pong"}


async def test_revoking_or_logging_out_closes_sockets_with_4403(
    stack: Stack, api: Api, operator: Session
) -> None:
    tablet = await api.login(operator.handle, operator.password, name="tablet")
    async with api.http.ws_connect(
        ws_url(stack), headers={"Authorization": f"Bearer {tablet.access_token}"}
    ) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        revoked = await api.call(
            "DELETE", f"/v1/devices/{tablet.device_id}", token=operator.access_token
        )
        assert revoked.status == 204
        assert await closed_with(ws) == 4403
    async with api.http.ws_connect(
        ws_url(stack), headers={"Authorization": f"Bearer {operator.access_token}"}
    ) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        await api.call("DELETE", "/v1/sessions/current", token=operator.access_token)
        assert await closed_with(ws) == 4403


async def test_reauth_with_another_devices_token_closes_the_socket(
    stack: Stack, api: Api, operator: Session
) -> None:
    other = await api.login(operator.handle, operator.password, name="other")
    async with api.http.ws_connect(
        ws_url(stack), headers={"Authorization": f"Bearer {operator.access_token}"}
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


async def test_gateway_shutdown_closes_sockets_with_1012(
    stack: Stack, api: Api, operator: Session
) -> None:
    async with api.http.ws_connect(
        ws_url(stack), headers={"Authorization": f"Bearer {operator.access_token}"}
    ) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        stopping = asyncio.get_running_loop().run_in_executor(None, stack.stop, "gateway")
        assert await closed_with(ws) == 1012
        assert (await stopping) == {"gateway": 0}


async def test_gateway_resyncs_its_sockets_after_its_broker_connection_returns(
    stack: Stack, api: Api, operator: Session, isolation: tuple[str, str]
) -> None:
    from tests.support.rabbit import close_connections

    async with api.http.ws_connect(
        ws_url(stack), headers={"Authorization": f"Bearer {operator.access_token}"}
    ) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        assert await close_connections(f"{isolation[0]}gateway") == 1
        assert await next_frame(ws, timeout=30) == {"type": "resync"}
        await ws.send_json({"type": "ping"})
        assert await next_frame(ws) == {"type": "pong"}


async def test_send_over_the_socket_answers_accepted_or_error_frames(
    stack: Stack, api: Api, operator: Session
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "ws")
    async with api.http.ws_connect(
        ws_url(stack), headers={"Authorization": f"Bearer {client.access_token}"}
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


async def test_an_unacked_message_counts_as_failed_after_ten_seconds(
    stack: Stack, api: Api, operator: Session, mongo_client, isolation: tuple[str, str]
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "noack")
    pending = mongo_client[f"{isolation[1]}_notification"]["pending"]
    async with api.http.ws_connect(
        ws_url(stack), headers={"Authorization": f"Bearer {coach.access_token}"}
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
        assert frame["message"]["message_id"] == envelope["message_id"]
        assert await pending.find_one({"device_id": coach.device_id}) is None  # not yet
        async with asyncio.timeout(20):  # never acked: after 10 s it counts as failed
            while (doc := await pending.find_one({"device_id": coach.device_id})) is None:
                await asyncio.sleep(0.2)
        assert doc["message_id"] == envelope["message_id"]
        assert doc["reason"] == "ack_timeout"
