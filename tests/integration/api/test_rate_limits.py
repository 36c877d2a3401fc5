"""Rate limits through the services: shared across gateway replicas, 429 with
Retry-After over HTTP, `error` frames and then 4429 over the WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from haven_crypto import crypto
from tests.support.inprocess import AppStack
from tests.support.ws import closed_with, next_frame, ws_url
from tools.api import Api, DeviceKeys, Session, coach_and_client, seal_for
from tools.stack import BOOTSTRAP_OPERATOR

STRICT = {
    "HAVEN_RATE_SEND": "6/minute,3",
    "HAVEN_RATE_INVITES": "3/hour,2",
    "HAVEN_RATE_KX": "2/hour,1",
    "HAVEN_RATE_DEVICE_OPS": "2/hour,1",
    "HAVEN_RATE_REGISTER": "3/hour,3",
    "HAVEN_RATE_WS_FRAMES": "1/minute,8",
}


@pytest.fixture
def stack_overrides() -> dict[str, str]:
    return STRICT


@pytest.fixture
async def apis(app_stack: AppStack) -> AsyncIterator[tuple[Api, Api]]:
    """Clients of two gateway replicas."""
    second = await app_stack.start_extra("gateway", "b")
    async with aiohttp.ClientSession() as http:
        yield Api(http, app_stack.gateway_url), Api(http, app_stack.health_url(second))


def limited(reply_status: int, body: dict, headers: dict[str, str]) -> bool:
    return (
        reply_status == 429 and body["code"] == "rate_limited" and int(headers["Retry-After"]) >= 1
    )


async def test_sends_invites_keys_devices_and_registrations_share_one_budget_across_replicas(
    apis: tuple[Api, Api], app_stack: AppStack
) -> None:
    a, b = apis
    operator = await a.login(*BOOTSTRAP_OPERATOR)
    coach, client, cid, devices = await coach_and_client(a, operator, "rl")  # 2 registrations

    async def send(api: Api, *, urgent: bool = False) -> tuple[int, dict, dict[str, str]]:
        body = {"envelope": seal_for(client, cid, devices, urgent=urgent)}
        reply = await api.call(
            "POST", f"/v1/conversations/{cid}/messages", body, client.access_token
        )
        return reply.status, reply.body, reply.headers

    # Sends: a burst of 3 per account, spent on two replicas.
    assert [(await send(api))[0] for api in (a, b, a)] == [202, 202, 202]
    assert limited(*await send(b))
    status, body, headers = await send(a, urgent=True)
    assert limited(status, body, headers) and body["crisis_resources"]

    # Invites: a burst of 2 per account (the cast used one, on replica a).
    invite = await b.call("POST", "/v1/invites", {"kind": "client"}, coach.access_token)
    assert invite.status == 201
    over = await b.call("POST", "/v1/invites", {"kind": "client"}, coach.access_token)
    assert limited(over.status, over.body, over.headers)

    # Key rotation: one per device, then 429 on the other replica.
    rotations = []
    for api in (a, b):
        keys = DeviceKeys(identity=client.keys.identity)
        rotation = {
            "kx_key": crypto.b64e(keys.kx_public),
            "kx_signature": crypto.b64e(
                crypto.sign_kx(keys.identity, client.handle, keys.kx_public)
            ),
        }
        rotations.append(
            await api.call(
                "PUT", f"/v1/devices/{client.device_id}/kx", rotation, client.access_token
            )
        )
    assert rotations[0].status == 204
    assert limited(rotations[1].status, rotations[1].body, rotations[1].headers)

    # Device operations: one revocation; revoking it again is a free, silent no-op.
    laptop = await a.login(coach.handle, coach.password, name="laptop")
    tablet = await a.login(coach.handle, coach.password, name="tablet")
    path = f"/v1/devices/{laptop.device_id}"
    assert (await a.call("DELETE", path, token=coach.access_token)).status == 204
    assert (await b.call("DELETE", path, token=coach.access_token)).status == 204
    over = await b.call("DELETE", f"/v1/devices/{tablet.device_id}", token=coach.access_token)
    assert limited(over.status, over.body, over.headers)

    # Registration per address, checked first: two went into the cast, one more fits the
    # burst of 3; the next is refused before its (bogus) invite is even looked at.
    code = await a.invite(operator, "coach")
    assert (await b.register("coach_rl2", "a-password-123", code)).status == 201
    over = await a.register("coach_rl3", "a-password-123", "no-such-invite")
    assert limited(over.status, over.body, over.headers)


async def test_a_socket_that_keeps_exceeding_its_budget_gets_error_frames_then_4429(
    apis: tuple[Api, Api], app_stack: AppStack
) -> None:
    a, _ = apis
    operator = await a.login(*BOOTSTRAP_OPERATOR)
    _coach, client, cid, devices = await coach_and_client(a, operator, "wsrl")
    headers = {"Authorization": f"Bearer {client.access_token}"}
    async with a.http.ws_connect(ws_url(app_stack), headers=headers) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        replies = []
        for _ in range(4):  # sends: the account's burst of 3, then rate_limited
            envelope = seal_for(client, cid, devices)
            await ws.send_json({"type": "send", "conversation_id": cid, "envelope": envelope})
            replies.append(await next_frame(ws))
        assert [r["type"] for r in replies] == ["accepted"] * 3 + ["error"]
        assert replies[3]["code"] == "rate_limited" and replies[3]["retry_after"] >= 1
        errors = []
        for _ in range(8):  # the socket's own frame budget (8) runs out meanwhile
            await ws.send_json({"type": "ping"})
        code = None
        while code is None:
            msg = await ws.receive(timeout=10)
            if msg.type == aiohttp.WSMsgType.TEXT:
                errors.append(msg.json())
            else:
                code = int(msg.data) if msg.type == aiohttp.WSMsgType.CLOSE else ws.close_code
        assert code == 4429
        assert [e["code"] for e in errors if e["type"] == "error"] == ["rate_limited"] * 4


async def test_unauthenticated_sockets_are_capped_per_address(
    api: Api, operator: Session, app_stack: AppStack
) -> None:
    parked = [await api.http.ws_connect(ws_url(app_stack)) for _ in range(8)]  # the default cap
    try:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await api.http.ws_connect(ws_url(app_stack))
        assert refused.value.status == 429
        await parked[0].send_json({"type": "auth", "access_token": operator.access_token})
        assert await next_frame(parked[0]) == {"type": "ready"}  # no longer pending
        async with api.http.ws_connect(ws_url(app_stack)) as admitted:
            await admitted.send_json({"type": "auth", "access_token": "nonsense"})
            assert await closed_with(admitted) == 4401
    finally:
        await asyncio.gather(*(ws.close() for ws in parked))
