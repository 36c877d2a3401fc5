"""Hostile input through the real services: MongoDB operator objects and absurd numbers.

Every field that reaches a query must be a plain string or integer; an operator object such as
`{"$ne": ""}` in its place is a 422 naming the field, and nothing changes on the server.
The tests share one stack (tests/support/sharing.py): each counts what it changed, never what
the store holds in all.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from pymongo import AsyncMongoClient

from tools.api import Api, DeviceKeys, Reply, Session

SHARED_STACK: dict[str, str] = {}

OPERATORS = [{"$ne": ""}, {"$gt": ""}]
LOGIN_FIELDS = [
    "handle",
    "password",
    "replace_device_id",
    "device.name",
    "device.identity_key",
    "device.kx_key",
    "device.kx_signature",
    "device.ts",
    "device.proof",
]


def _fields(reply: Reply) -> set[str]:
    return {e["field"] for e in reply.body.get("errors", [])}


def _assert_names(reply: Reply, field: str) -> None:
    assert reply.status == 422, (field, reply.status, reply.body)
    assert reply.code == "invalid_request", (field, reply.body)
    assert any(f == field or f.startswith(f"{field}.") for f in _fields(reply)), (field, reply.body)


def _login_body(session: Session, field: str, value: object) -> dict[str, Any]:
    body: dict[str, Any] = {
        "handle": session.handle,
        "password": session.password,
        "device": DeviceKeys().block(session.handle),
        "replace_device_id": session.device_id,
    }
    if field.startswith("device."):
        body["device"][field.removeprefix("device.")] = value
    else:
        body[field] = value
    return body


@pytest.mark.parametrize("operator_object", OPERATORS, ids=["ne", "gt"])
async def test_operator_objects_in_login_and_refresh_get_422_and_issue_nothing(
    api: Api,
    operator: Session,
    mongo_client: AsyncMongoClient,
    isolation: tuple[str, str],
    operator_object: dict[str, str],
) -> None:
    db = mongo_client[f"{isolation[1]}_gateway"]
    before = (
        await db.refresh_tokens.count_documents({}),
        await db.refresh_tokens.count_documents({"spent_at": {"$ne": None}}),
        await db.audit.count_documents({"type": "login_succeeded"}),
        await db.devices.count_documents({}),
    )
    for field in LOGIN_FIELDS:
        body = _login_body(operator, field, operator_object)
        _assert_names(await api.call("POST", "/v1/sessions", body), field)
    refresh = await api.call("POST", "/v1/sessions/refresh", {"refresh_token": operator_object})
    _assert_names(refresh, "refresh_token")
    after = (
        await db.refresh_tokens.count_documents({}),
        await db.refresh_tokens.count_documents({"spent_at": {"$ne": None}}),
        await db.audit.count_documents({"type": "login_succeeded"}),
        await db.devices.count_documents({}),
    )
    assert after == before  # no token issued or spent (the operator's neither), no device
    assert (await api.call("GET", "/v1/me", token=operator.access_token)).status == 200


@pytest.mark.parametrize("operator_object", OPERATORS, ids=["ne", "gt"])
async def test_operator_objects_in_invites_get_422_and_leave_the_invite_usable(
    api: Api,
    operator: Session,
    mongo_client: AsyncMongoClient,
    isolation: tuple[str, str],
    operator_object: dict[str, str],
) -> None:
    db = mongo_client[f"{isolation[1]}_gateway"]
    used_before = await db.invites.count_documents({"used_at": {"$ne": None}})
    tag = uuid.uuid4().hex[:8]
    coach = await api.onboard(operator, "coach", f"coach_inject_{tag}")
    client = await api.onboard(coach, "client", f"client_inject_{tag}")
    other_coach = await api.onboard(operator, "coach", f"coach_other_{tag}")
    code = await api.invite(other_coach, "client")
    invites_before = await db.invites.count_documents({})

    created = await api.call("POST", "/v1/invites", {"kind": operator_object}, coach.access_token)
    _assert_names(created, "kind")
    accept = await api.call(
        "POST", "/v1/invites/accept", {"code": operator_object}, client.access_token
    )
    _assert_names(accept, "code")
    for field in ("invite_code", "handle"):
        body = {"handle": "newcomer", "password": "newcomer-password-1", "invite_code": code}
        _assert_names(
            await api.call("POST", "/v1/accounts", {**body, field: operator_object}), field
        )

    assert await db.invites.count_documents({}) == invites_before
    used = await db.invites.count_documents({"used_at": {"$ne": None}})
    assert used == used_before + 3  # the onboarded
    assert await db.accounts.count_documents({"handle": "newcomer"}) == 0
    joined = await api.call("POST", "/v1/invites/accept", {"code": code}, client.access_token)
    assert joined.status == 201, joined.body


@pytest.mark.parametrize("operator_object", OPERATORS, ids=["ne", "gt"])
async def test_operator_objects_in_read_markers_and_history_get_422(
    api: Api, operator: Session, operator_object: dict[str, str]
) -> None:
    tag = uuid.uuid4().hex[:8]
    coach = await api.onboard(operator, "coach", f"coach_reads_{tag}")
    client = await api.onboard(coach, "client", f"client_reads_{tag}")
    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    cid = listed.body["conversations"][0]["conversation_id"]
    read = await api.call(
        "POST", f"/v1/conversations/{cid}/read", {"up_to_seq": operator_object}, client.access_token
    )
    _assert_names(read, "up_to_seq")
    for name in ("after_seq", "before_seq", "limit"):
        query = f"?{name}={quote(json.dumps(operator_object))}"
        history = await api.call(
            "GET", f"/v1/conversations/{cid}/messages{query}", token=client.access_token
        )
        _assert_names(history, name)
    listed = await api.call("GET", "/v1/conversations", token=coach.access_token)
    assert listed.body["conversations"][0]["read_up_to"] == 0


@pytest.mark.parametrize(
    "ts",
    [10**30, -(10**30), 2**63, 10**400, -(10**400)],
    ids=["e30", "-e30", "2^63", "e400", "-e400"],
)
async def test_an_absurd_device_ts_is_422_naming_it(api: Api, operator: Session, ts: int) -> None:
    body = {
        "handle": operator.handle,
        "password": operator.password,
        "device": DeviceKeys().block(operator.handle, ts=ts),
    }
    reply = await api.call("POST", "/v1/sessions", body)
    _assert_names(reply, "device.ts")
