"""No cache keeps what the API answers (RFC 9111 `no-store`, OWASP ASVS 8.2.1): tokens from a
login or a refresh, reset codes, device lists, history, problems and the WebSocket upgrade's
refusals all say `Cache-Control: no-store`, through the running services; Haven Web's files
keep their own policy (hashed files immutable for a year)."""

from __future__ import annotations

import uuid
from pathlib import Path

import aiohttp
import pytest

from services.gateway.edge.webapp import IMMUTABLE
from tests.support.addresses import behind
from tests.support.inprocess import AppStack
from tests.support.ws import ws_url
from tools.api import Api, DeviceKeys, Reply, Session

SHARED_STACK: dict[str, str] = {
    # The upgrade-refusal test parks a socket as its own client address, with a budget of one.
    "HAVEN_TRUSTED_PROXIES": "127.0.0.1/32",
    "HAVEN_WS_UNAUTHENTICATED_PER_ADDRESS": "1",
}
HASHED_FILE = "app-Q7ZK2M4X.js"


def assert_no_store(reply: Reply, what: str) -> None:
    assert reply.headers.get("Cache-Control") == "no-store", (what, reply.status, reply.headers)


async def test_answers_with_tokens_codes_devices_and_history_are_never_stored(
    api: Api, operator: Session
) -> None:
    tag = uuid.uuid4().hex[:8]
    coach = await api.onboard(operator, "coach", f"coach_ns{tag}")
    client = await api.onboard(coach, "client", f"client_ns{tag}")
    device = DeviceKeys().block(client.handle, "laptop")
    login = await api.call(
        "POST",
        "/v1/sessions",
        {"handle": client.handle, "password": client.password, "device": device},
    )
    assert login.status == 201 and "access_token" in login.body, login.body
    assert_no_store(login, "login")
    refresh = {"refresh_token": login.body["refresh_token"]}
    refreshed = await api.call("POST", "/v1/sessions/refresh", refresh)
    assert refreshed.status == 200 and "refresh_token" in refreshed.body, refreshed.body
    assert_no_store(refreshed, "refresh")
    path = f"/v1/admin/accounts/{client.account_id}/reset-code"
    code = await api.call("POST", path, token=operator.access_token)
    assert code.status == 201 and "code" in code.body, code.body
    assert_no_store(code, "reset code")

    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    conversation_id = listed.body["conversations"][0]["conversation_id"]
    token = client.access_token
    for what in (
        "/v1/me",
        f"/v1/accounts/{client.account_id}/devices",
        "/v1/me/links",
        f"/v1/conversations/{conversation_id}/messages",
        "/v1/me/notification-settings",
    ):
        reply = await api.call("GET", what, token=token)
        assert reply.status == 200, (what, reply.body)
        assert_no_store(reply, what)
    # The export sets the header itself: said once, not twice.
    async with api.http.get(
        f"{api.base}/v1/me/export", headers={"Authorization": f"Bearer {token}"}
    ) as export:
        assert export.status == 200
        assert export.headers.getall("Cache-Control") == ["no-store"]
        await export.read()


async def test_problems_are_never_stored(api: Api, operator: Session) -> None:
    token = operator.access_token
    for method, path, body, status in (
        ("GET", "/v1/me", None, 401),  # no token
        ("GET", "/v1/no-such-endpoint", None, 404),
        ("POST", "/v1/invites", {"kind": "nobody"}, 422),
        ("GET", "/v1/conversations/nope/messages?after_seq=-5", None, 422),
        ("DELETE", "/v1/keys", None, 405),
    ):
        reply = await api.call(method, path, body, token=None if status == 401 else token)
        assert reply.status == status, (path, reply.status, reply.body)
        assert reply.headers["Content-Type"].startswith("application/problem+json"), path
        assert_no_store(reply, path)


async def test_the_websocket_upgrades_refusals_are_never_stored(
    api: Api, app_stack: AppStack
) -> None:
    url = ws_url(app_stack)
    async with api.http.get(url.replace("ws://", "http://")) as plain:  # no upgrade asked
        assert plain.status == 400
        assert plain.headers["Cache-Control"] == "no-store"
    address = behind(f"192.0.2.{uuid.uuid4().int % 250 + 1}")
    parked = await api.http.ws_connect(url, headers=address)
    try:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await api.http.ws_connect(url, headers=address)
        assert refused.value.status == 429
        assert refused.value.headers is not None
        assert refused.value.headers["Cache-Control"] == "no-store"
    finally:
        await parked.close()


@pytest.fixture
def stack_overrides(tmp_path: Path) -> dict[str, str]:
    """A small Haven Web build of this test's own (the fresh_stack test below)."""
    bundle = tmp_path / "web"
    bundle.mkdir()
    (bundle / "index.html").write_text(f'<script src="/app/{HASHED_FILE}"></script>')
    (bundle / HASHED_FILE).write_text("export {};\n")
    (bundle / "sw.js").write_text("self.addEventListener('fetch', () => {});\n")
    return {"HAVEN_WEB_DIR": str(bundle)}


@pytest.mark.fresh_stack
async def test_haven_webs_files_keep_their_own_caching(app_stack: AppStack) -> None:
    base = app_stack.gateway_url
    expected = {
        "/app/": "no-store",
        "/app/settings": "no-store",
        f"/app/{HASHED_FILE}": IMMUTABLE,
        "/app/sw.js": "no-cache",
        "/app/config.json": "no-store",
    }
    async with aiohttp.ClientSession() as http:
        for path, policy in expected.items():
            async with http.get(base + path) as r:
                assert r.status == 200, path
                assert r.headers.getall("Cache-Control") == [policy], path
        # A revalidation of an immutable file keeps its policy too.
        async with http.get(base + f"/app/{HASHED_FILE}") as first:
            modified = first.headers["Last-Modified"]
        async with http.get(
            base + f"/app/{HASHED_FILE}", headers={"If-Modified-Since": modified}
        ) as again:
            assert again.status == 304
            assert again.headers.getall("Cache-Control") == [IMMUTABLE]
