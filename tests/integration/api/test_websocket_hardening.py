"""Hostile frames and stale sessions on the WebSocket."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from services.gateway.stores import devicecache
from tests.support.inprocess import AppStack
from tests.support.ws import closed_with, next_frame, ws_url
from tools.api import Api, Session, coach_and_client, seal_for

SHARED_STACK: dict[str, str] = {}  # one stack for this module (tests/support/sharing.py)

DEEP = "[" * 120_000 + "]" * 120_000  # under the 256 KiB frame limit; far past recursion

CACHE_SECONDS = 2.0  # this test's device-cache backstop, instead of the service's


def no_traceback(app_stack: AppStack) -> None:
    log = app_stack.log_text("gateway")  # its lines, tracebacks included, as a process logs
    assert app_stack.log_lines("gateway"), "the gateway's log was not captured"
    assert "Traceback" not in log and "RecursionError" not in log


async def test_a_deeply_nested_first_frame_is_refused_with_4401(
    api: Api, app_stack: AppStack
) -> None:
    async with api.http.ws_connect(ws_url(app_stack), max_msg_size=0) as ws:
        await ws.send_str(DEEP)
        assert await closed_with(ws) == 4401
    no_traceback(app_stack)


async def test_a_deeply_nested_frame_after_auth_is_an_error_frame_and_the_socket_lives(
    api: Api, operator: Session, app_stack: AppStack
) -> None:
    headers = {"Authorization": f"Bearer {operator.access_token}"}
    async with api.http.ws_connect(ws_url(app_stack), headers=headers) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        await ws.send_str(DEEP)
        error = await next_frame(ws)
        assert error["type"] == "error" and error["code"] == "invalid_request"
        await ws.send_json({"type": "ping"})
        assert await next_frame(ws) == {"type": "pong"}
    no_traceback(app_stack)


async def test_a_login_that_resumes_the_device_ends_the_old_sessions_socket(
    api: Api, operator: Session, app_stack: AppStack
) -> None:
    _coach, client, cid, devices = await coach_and_client(api, operator, "resume")
    headers = {"Authorization": f"Bearer {client.access_token}"}
    async with api.http.ws_connect(ws_url(app_stack), headers=headers) as old:
        assert await next_frame(old) == {"type": "ready"}
        resumed = await api.login(client.handle, client.password, client.keys)
        assert resumed.device_id == client.device_id
        assert await closed_with(old) == 4401  # its session ended with the resume
    fresh = {"Authorization": f"Bearer {resumed.access_token}"}
    async with api.http.ws_connect(ws_url(app_stack), headers=fresh) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        envelope = seal_for(resumed, cid, devices)
        await ws.send_json({"type": "send", "conversation_id": cid, "envelope": envelope})
        assert (await next_frame(ws))["type"] == "accepted"


async def test_a_socket_whose_session_ended_cannot_send(
    api: Api,
    operator: Session,
    app_stack: AppStack,
    mongo_client,
    isolation: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Even if the close control never reached the socket (and no event announced the change),
    its next send finds out once the cached session expired."""
    monkeypatch.setattr(devicecache, "TTL_SECONDS", CACHE_SECONDS)  # in-process gateway
    coach, client, cid, devices = await coach_and_client(api, operator, "stale")
    headers = {"Authorization": f"Bearer {client.access_token}"}
    async with api.http.ws_connect(ws_url(app_stack), headers=headers) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        devices_db = mongo_client[f"{isolation[1]}_gateway"]["devices"]
        # The session ends behind the socket's back (as a lost control message would leave it).
        await devices_db.update_one({"_id": client.device_id}, {"$inc": {"session": 1}})
        _past_cache(monkeypatch)
        envelope = seal_for(client, cid, devices)
        await ws.send_json({"type": "send", "conversation_id": cid, "envelope": envelope})
        assert await closed_with(ws) == 4401
    history = await api.call(
        "GET", f"/v1/conversations/{cid}/messages?after_seq=0", token=coach.access_token
    )
    assert history.status == 200 and history.body["messages"] == []


def _past_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway caches a device's session (services/gateway/stores/devicecache.py); nothing
    announces this hand-made change, so only time expires the cached entry: the clock the
    cache reads moves on past its TTL (instead of the test waiting for it)."""
    later = CACHE_SECONDS + 0.5
    clock = SimpleNamespace(monotonic=lambda: time.monotonic() + later)
    monkeypatch.setattr(devicecache, "time", clock)
