"""Onboarding, invites, relationships and the authorization matrix, over HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from pymongo import AsyncMongoClient

from tools.api import Api, Reply, Session

SHARED_STACK: dict[str, str] = {}  # one stack for this module (tests/support/sharing.py)


async def test_whole_onboarding_ends_with_both_sides_listing_one_conversation(
    api: Api, operator: Session
) -> None:
    coach_invite = await api.invite(operator, "coach")
    registered = await api.register("Coach_Kim", "coach-password-1", coach_invite, "Kim")
    assert registered.status == 201
    assert registered.body["role"] == "coach" and registered.body["handle"] == "coach_kim"
    reused = await api.register("someone", "other-password-1", coach_invite)
    assert reused.status == 400 and reused.code == "invite_invalid"

    phone = await api.login("coach_kim", "coach-password-1", name="phone")
    laptop = await api.login("COACH_KIM", "coach-password-1", name="laptop")
    assert phone.device_id != laptop.device_id

    client_invite = await api.invite(phone, "client")
    client_reply = await api.register("sam", "sam-password-12", client_invite, "Sam")
    assert client_reply.body["role"] == "client"
    sam = await api.login("sam", "sam-password-12")

    coach_view = await api.call("GET", "/v1/conversations", token=laptop.access_token)
    sam_view = await api.call("GET", "/v1/conversations", token=sam.access_token)
    assert coach_view.status == sam_view.status == 200
    [conversation] = coach_view.body["conversations"]
    [sams] = sam_view.body["conversations"]
    # Each side sees the same conversation with its own settings (the role's defaults).
    assert conversation.pop("settings")["share_read_receipts"] is True
    assert sams.pop("settings")["share_read_receipts"] is False
    assert sams == conversation
    assert conversation["status"] == "active"
    assert conversation["last_seq"] == 0 and conversation["read_up_to"] == 0
    roles = {p["handle"]: p["role"] for p in conversation["participants"]}
    assert roles == {"coach_kim": "coach", "sam": "client"}

    devices = await api.call(
        "GET", f"/v1/accounts/{phone.account_id}/devices", token=sam.access_token
    )
    assert {d["device_id"] for d in devices.body["devices"]} == {phone.device_id, laptop.device_id}


async def test_an_existing_client_joins_a_second_coach_once(api: Api, operator: Session) -> None:
    coach_a = await api.onboard(operator, "coach", "coach_a")
    coach_b = await api.onboard(operator, "coach", "coach_b")
    client = await api.onboard(coach_a, "client", "client_c")
    code = await api.invite(coach_b, "client")
    joined = await api.call("POST", "/v1/invites/accept", {"code": code}, client.access_token)
    assert joined.status == 201 and joined.body["conversation_id"]
    again = await api.call(
        "POST",
        "/v1/invites/accept",
        {"code": await api.invite(coach_b, "client")},
        client.access_token,
    )
    assert again.status == 409
    coach_accepts = await api.call(
        "POST",
        "/v1/invites/accept",
        {"code": await api.invite(coach_b, "client")},
        coach_a.access_token,
    )
    assert coach_accepts.status == 403
    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    assert len(listed.body["conversations"]) == 2


async def test_ending_a_conversation_is_idempotent_and_visible_to_both(
    api: Api, operator: Session
) -> None:
    coach = await api.onboard(operator, "coach", "coach_end")
    client = await api.onboard(coach, "client", "client_end")
    [conversation] = (await api.call("GET", "/v1/conversations", token=client.access_token)).body[
        "conversations"
    ]
    cid = conversation["conversation_id"]
    for _ in range(2):
        ended = await api.call("POST", f"/v1/conversations/{cid}/end", token=client.access_token)
        assert ended.status == 200 and ended.body == {"conversation_id": cid, "status": "ended"}
    seen = await api.call("GET", "/v1/conversations", token=coach.access_token)
    assert seen.body["conversations"][0]["status"] == "ended"
    # Ended relationships still let each side see the other's devices (to verify old messages).
    devices = await api.call(
        "GET", f"/v1/accounts/{coach.account_id}/devices", token=client.access_token
    )
    assert devices.status == 200


@dataclass
class Cast:
    operator: Session
    coach: Session
    other_coach: Session
    client: Session
    other_client: Session
    conversation_id: str


@pytest.fixture
async def cast(api: Api, operator: Session) -> Cast:
    tag = uuid.uuid4().hex[:8]  # the module's tests share one stack
    coach = await api.onboard(operator, "coach", f"coach_one{tag}")
    other_coach = await api.onboard(operator, "coach", f"coach_two{tag}")
    client = await api.onboard(coach, "client", f"client_one{tag}")
    other_client = await api.onboard(other_coach, "client", f"client_two{tag}")
    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    return Cast(
        operator,
        coach,
        other_coach,
        client,
        other_client,
        listed.body["conversations"][0]["conversation_id"],
    )


ACTORS = ("anonymous", "client", "other_client", "coach", "other_coach", "operator")


async def _as(
    api: Api, cast: Cast, actor: str, method: str, path: str, body: object = None
) -> Reply:
    token = None if actor == "anonymous" else getattr(cast, actor).access_token
    return await api.call(method, path, body, token)


async def test_authorization_matrix_leaks_nothing(api: Api, cast: Cast) -> None:
    c = cast
    # (method, path, body, {actor: expected status}); anonymous is always 401.
    matrix: list[tuple[str, str, object, dict[str, int]]] = [
        ("GET", "/v1/me", None, dict.fromkeys(ACTORS[1:], 200)),
        (
            "GET",
            f"/v1/accounts/{c.coach.account_id}/devices",
            None,
            {"client": 200, "other_client": 404, "coach": 200, "other_coach": 404, "operator": 404},
        ),
        (
            "GET",
            f"/v1/accounts/{c.client.account_id}/devices",
            None,
            {"client": 200, "other_client": 404, "coach": 200, "other_coach": 404, "operator": 404},
        ),
        (
            "GET",
            f"/v1/devices/{c.client.device_id}",
            None,
            {"client": 200, "other_client": 404, "coach": 200, "other_coach": 404, "operator": 404},
        ),
        ("GET", "/v1/accounts/no-such-account/devices", None, dict.fromkeys(ACTORS[1:], 404)),
        (
            "POST",
            "/v1/invites",
            {"kind": "coach"},
            {"client": 403, "other_client": 403, "coach": 403, "other_coach": 403, "operator": 201},
        ),
        (
            "POST",
            "/v1/invites",
            {"kind": "client"},
            {"client": 403, "other_client": 403, "coach": 201, "other_coach": 201, "operator": 403},
        ),
        ("GET", "/v1/conversations", None, dict.fromkeys(ACTORS[1:], 200)),
        (
            "GET",
            "/v1/admin/audit",
            None,
            {"client": 403, "other_client": 403, "coach": 403, "other_coach": 403, "operator": 200},
        ),
        (
            "DELETE",
            f"/v1/devices/{c.client.device_id}",
            None,
            {"other_client": 404, "coach": 404, "other_coach": 404, "operator": 404},
        ),
        (
            "PUT",
            f"/v1/devices/{c.client.device_id}/kx",
            {"kx_key": "A" * 43, "kx_signature": "A" * 86},
            {"other_client": 404, "coach": 404, "other_coach": 404, "operator": 404},
        ),
        (
            "POST",
            f"/v1/conversations/{c.conversation_id}/end",
            None,
            {"other_client": 404, "other_coach": 404, "operator": 404},
        ),
    ]
    for method, path, body, expected in matrix:
        for actor in ACTORS:
            want = 401 if actor == "anonymous" else expected.get(actor)
            if want is None:
                continue
            reply = await _as(api, c, actor, method, path, body)
            assert reply.status == want, (method, path, actor, reply.status, reply.body)
            if reply.status >= 400:
                assert reply.headers["Content-Type"].startswith("application/problem+json")
    # Conversations list only one's own.
    other = await _as(api, c, "other_client", "GET", "/v1/conversations")
    assert c.conversation_id not in {x["conversation_id"] for x in other.body["conversations"]}


async def test_kx_rotation_of_someone_elses_device_is_not_found(api: Api, cast: Cast) -> None:
    from haven_crypto import crypto
    from tools.api import DeviceKeys

    kx = DeviceKeys().kx_public
    body = {
        "kx_key": crypto.b64e(kx),
        "kx_signature": crypto.b64e(crypto.sign_kx(cast.coach.keys.identity, "x", kx)),
    }
    reply = await api.call(
        "PUT", f"/v1/devices/{cast.client.device_id}/kx", body, cast.coach.access_token
    )
    assert reply.status == 404


MALFORMED: list[tuple[str, str, object, str]] = [
    ("POST", "/v1/accounts", {"handle": "ab", "password": "short", "invite_code": "x"}, "handle"),
    (
        "POST",
        "/v1/accounts",
        {"handle": "sam", "password": 12345678901, "invite_code": "x"},
        "password",
    ),
    (
        "POST",
        "/v1/accounts",
        {"handle": "bad handle!", "password": "long-enough-1", "invite_code": "x"},
        "handle",
    ),
    (
        "POST",
        "/v1/accounts",
        {"handle": "sam", "password": "long-enough-1", "invite_code": "x", "admin": True},
        "admin",
    ),
    ("POST", "/v1/accounts", [], "body"),
    ("POST", "/v1/sessions", {"handle": "sam", "password": "x"}, "device"),
    (
        "POST",
        "/v1/sessions",
        {
            "handle": "sam",
            "password": "x",
            "device": {
                "name": "p",
                "identity_key": "AAAA",
                "kx_key": "!!",
                "kx_signature": "A" * 86,
                "ts": "now",
                "proof": "A" * 86,
            },
        },
        "device.identity_key",
    ),
    (
        "POST",
        "/v1/sessions",
        {
            "handle": "sam",
            "password": "x",
            "device": {
                "name": "p",
                "identity_key": "A" * 42 + "==",
                "kx_key": "A" * 43,
                "kx_signature": "A" * 86,
                "ts": 1,
                "proof": "A" * 86,
            },
        },
        "device.identity_key",
    ),
    ("POST", "/v1/sessions/refresh", {"refresh_token": 7}, "refresh_token"),
]


async def test_malformed_input_gets_4xx_naming_fields_and_writes_nothing(
    api: Api, operator: Session, mongo_client: AsyncMongoClient, isolation: tuple[str, str]
) -> None:
    db = mongo_client[f"{isolation[1]}_gateway"]
    before = (await db.accounts.count_documents({}), await db.devices.count_documents({}))
    for method, path, body, field in MALFORMED:
        reply = await api.call(method, path, body)
        assert reply.status == 422, (path, body, reply.body)
        assert reply.code == "invalid_request"
        assert field in {e["field"] for e in reply.body["errors"]}, reply.body
        assert "long-enough-1" not in str(reply.body)  # never echo secrets
    not_json = await api.call("POST", "/v1/accounts", raw=b"{not json")
    assert not_json.status == 422
    huge = await api.call("POST", "/v1/accounts", raw=b'{"handle": "' + b"a" * 200_000 + b'"}')
    assert huge.status == 413 and huge.code == "payload_too_large"
    wrong_type = await api.call("POST", "/v1/invites", {"kind": "operator"}, operator.access_token)
    assert wrong_type.status == 422
    garbage_token = await api.call("GET", "/v1/me", token="not.a.token")
    assert garbage_token.status == 401
    after = (await db.accounts.count_documents({}), await db.devices.count_documents({}))
    assert after == before


async def test_audit_log_pages_through_security_events(api: Api, cast: Cast) -> None:
    seen: list[str] = []
    before = None
    for _ in range(20):
        query = "?limit=5" + (f"&before={before}" if before else "")
        page = await api.call("GET", f"/v1/admin/audit{query}", token=cast.operator.access_token)
        assert page.status == 200
        seen += [e["type"] for e in page.body["entries"]]
        before = page.body["next_before"]
        if before is None:
            break
    for expected in (
        "login_succeeded",
        "device_added",
        "invite_created",
        "invite_redeemed",
        "account_registered",
        "relationship_started",
    ):
        assert expected in seen
    text = str(seen)
    assert "password" not in text.replace("password_", "")


async def test_openapi_describes_every_endpoint(api: Api) -> None:
    spec = await api.call("GET", "/v1/openapi.json")
    assert spec.status == 200 and spec.body["openapi"].startswith("3.1")
    paths = spec.body["paths"]
    for path, method in [
        ("/v1/accounts", "post"),
        ("/v1/sessions", "post"),
        ("/v1/sessions/refresh", "post"),
        ("/v1/sessions/current", "delete"),
        ("/v1/me", "get"),
        ("/v1/me/password", "put"),
        ("/v1/devices/{device_id}", "delete"),
        ("/v1/devices/{device_id}/kx", "put"),
        ("/v1/accounts/{account_id}/devices", "get"),
        ("/v1/invites", "post"),
        ("/v1/invites/accept", "post"),
        ("/v1/conversations", "get"),
        ("/v1/conversations/{conversation_id}/end", "post"),
    ]:
        assert method in paths[path], path
    login = paths["/v1/sessions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert login["$ref"].endswith("LoginRequest")
    assert "LoginRequest" in spec.body["components"]["schemas"]


async def test_a_taken_handle_leaves_the_invite_usable(api: Api, operator: Session) -> None:
    coach = await api.onboard(operator, "coach", "coach_handles")
    await api.onboard(coach, "client", "taken_name")
    code = await api.invite(coach, "client")
    taken = await api.register("Taken_Name", "another-password-1", code)
    assert taken.status == 409
    assert taken.code == "conflict"
    fresh = await api.register("free_name", "another-password-1", code)
    assert fresh.status == 201
    client = await api.login("free_name", "another-password-1")
    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    assert len(listed.body["conversations"]) == 1
