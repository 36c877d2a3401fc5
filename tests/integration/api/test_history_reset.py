"""Password reset by an operator's code (API.md "History on a new device"), through the running
services: the code is single use, expires and is audited with the operator who issued it; the
new password works and the old one and every old session stop; the account's devices and keys
stay (signing in again resumes the same device) and history stays readable; the account's
devices are told (an `account` frame before their sockets close, a calm push) and so are its
counterparts; wrong codes all look alike; attempts are rate limited per address and account."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from pymongo import AsyncMongoClient

from shared.events import utcnow
from tests.support.cli import Person
from tests.support.inprocess import AppStack
from tests.support.localhttp import serving_posts
from tests.support.ws import bearer, closed_with, frame_of_type, next_frame, ws_url
from tools.api import Api, Reply, Session, device_keys_of, seal_for
from tools.stack import BOOTSTRAP_OPERATOR

NEW_PASSWORD = "a brand new password 7"
SHARED_STACK: dict[str, str] = {
    # Each test comes from its own address (X-Forwarded-For), so the per-address budget of one
    # does not spend another's.
    "HAVEN_TRUSTED_PROXIES": "127.0.0.1/32",
    "HAVEN_PUSH_INSECURE_ALLOW_LOOPBACK": "1",
    "HAVEN_PUSH_ALLOWED_HOSTS": "127.0.0.1",
    # The one operator issues every test's codes (its own limit: test_a_reset_code_expires).
    "HAVEN_RATE_RESET_CODE": "1000/hour,1000",
}
CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){5}$")


@dataclass
class People:
    operator: Session
    coach: Session
    client: Session
    conversation_id: str
    address: str = field(default_factory=lambda: f"10.{uuid.uuid4().int % 250}.0.1")

    @property
    def from_address(self) -> dict[str, str]:
        return {"X-Forwarded-For": self.address}


@pytest.fixture
async def people(api: Api, operator: Session) -> People:
    tag = uuid.uuid4().hex[:8]
    coach = await api.onboard(operator, "coach", f"coach_rs{tag}")
    client = await api.onboard(coach, "client", f"client_rs{tag}")
    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    return People(operator, coach, client, listed.body["conversations"][0]["conversation_id"])


async def issue(api: Api, operator: Session, account_id: str) -> str:
    path = f"/v1/admin/accounts/{account_id}/reset-code"
    reply = await api.call("POST", path, token=operator.access_token)
    assert reply.status == 201, reply.body
    assert CODE.match(reply.body["code"]), reply.body
    expires_at = datetime.fromisoformat(reply.body["expires_at"])
    assert timedelta(hours=23) < expires_at - datetime.now(UTC) <= timedelta(hours=24)
    return str(reply.body["code"])


async def reset(
    api: Api, people: People, handle: str, code: str, password: str = NEW_PASSWORD
) -> Reply:
    body = {"handle": handle, "code": code, "new_password": password}
    return await api.call("POST", "/v1/password-resets", body, headers=people.from_address)


async def test_a_reset_code_works_once_and_ends_every_session_but_keeps_devices(
    api: Api, people: People, app_stack: AppStack, mongo_client: AsyncMongoClient,
    isolation: tuple[str, str],
) -> None:  # fmt: skip
    client, coach = people.client, people.coach
    laptop = await api.login(client.handle, client.password, name="laptop")
    devices = await device_keys_of(api, coach, coach.account_id, client.account_id)
    envelope = seal_for(coach, people.conversation_id, devices, "before the reset")
    sent = await api.call(
        "POST",
        f"/v1/conversations/{people.conversation_id}/messages",
        {"envelope": envelope},
        coach.access_token,
    )
    assert sent.status == 202
    code = await issue(api, people.operator, client.account_id)

    async with (
        api.http.ws_connect(ws_url(app_stack), headers=bearer(laptop.access_token)) as own,
        api.http.ws_connect(ws_url(app_stack), headers=bearer(coach.access_token)) as other,
    ):
        assert await next_frame(own) == {"type": "ready"}
        assert await next_frame(other) == {"type": "ready"}
        # The code is typed loosely: lower case, spaces instead of dashes.
        done = await reset(api, people, client.handle.upper(), code.lower().replace("-", " "))
        assert done.status == 204, done.body
        notice = {"type": "account", "event": "password_reset", "account_id": client.account_id}
        assert await frame_of_type(own, "account") == notice  # told why, then signed out
        assert await closed_with(own) == 4403
        assert await frame_of_type(other, "account") == notice  # the counterpart, calmly

    # Every old session is over, the old password too; the code was used.
    for session in (client, laptop):
        assert (await api.call("GET", "/v1/me", token=session.access_token)).status == 401
        refresh = {"refresh_token": session.refresh_token}
        assert (await api.call("POST", "/v1/sessions/refresh", refresh)).status == 401
    old = await api.call(
        "POST",
        "/v1/sessions",
        {
            "handle": client.handle,
            "password": client.password,
            "device": client.keys.block(client.handle),
        },
    )
    assert old.status == 401
    again = await reset(api, people, client.handle, code, "yet another password 9")
    assert (again.status, again.code) == (400, "reset_invalid")

    # The same devices and keys: signing in again resumes each one; history stays readable.
    resumed = await api.login(client.handle, NEW_PASSWORD, keys=client.keys)
    assert resumed.device_id == client.device_id
    back = await api.login(client.handle, NEW_PASSWORD, keys=laptop.keys, name="laptop")
    assert back.device_id == laptop.device_id
    listed = await api.call(
        "GET", f"/v1/accounts/{client.account_id}/devices", token=resumed.access_token
    )
    assert {d["device_id"] for d in listed.body["devices"]} == {client.device_id, laptop.device_id}
    async with asyncio.timeout(10):
        while True:
            history = await api.call(
                "GET",
                f"/v1/conversations/{people.conversation_id}/messages?after_seq=0",
                token=resumed.access_token,
            )
            if history.body["messages"]:
                break
            await asyncio.sleep(0.05)
    assert history.body["messages"][0]["message_id"] == envelope["message_id"]

    # The audit log names the operator who issued the code, and the reset.
    page = await api.call("GET", "/v1/admin/audit?limit=200", token=people.operator.access_token)
    mine = [e for e in page.body["entries"] if e["account_id"] == client.account_id]
    [issued] = [e for e in mine if e["type"] == "password_reset_code_issued"]
    assert issued["details"]["by"] == people.operator.account_id
    assert issued["device_id"] == people.operator.device_id
    [done_entry] = [e for e in mine if e["type"] == "password_reset"]
    assert done_entry["details"]["issued_by"] == people.operator.account_id
    assert done_entry["details"]["sessions_ended"] == 2
    assert done_entry["address"] == people.address
    codes = mongo_client[f"{isolation[1]}_gateway"]["reset_codes"]
    assert await codes.count_documents({"_id": code}) == 0  # stored hashed, never as issued


async def test_every_wrong_code_gets_the_same_answer(api: Api, people: People) -> None:
    client = people.client
    first = await issue(api, people.operator, client.account_id)
    other_code = await issue(api, people.operator, people.coach.account_id)
    answers = [
        await reset(api, people, client.handle, "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF"),
        await reset(api, people, "no_such_handle_" + uuid.uuid4().hex[:6], first),
        await reset(api, people, client.handle, other_code),  # another account's code
    ]
    for answer in answers:
        assert (answer.status, answer.code) == (400, "reset_invalid")
        assert answer.body["detail"] == answers[0].body["detail"]
    # A newer code replaces the earlier one.
    second = await issue(api, people.operator, client.account_id)
    superseded = await reset(api, people, client.handle, first)
    assert (superseded.status, superseded.code) == (400, "reset_invalid")
    for bad in (
        {"handle": client.handle, "code": second, "new_password": "short"},
        {"handle": client.handle, "code": second},
        {"handle": client.handle, "code": second, "new_password": NEW_PASSWORD, "x": 1},
    ):
        reply = await api.call("POST", "/v1/password-resets", bad, headers=people.from_address)
        assert (reply.status, reply.code) == (422, "invalid_request")
    assert (await reset(api, people, client.handle, second)).status == 204
    assert (await api.login(client.handle, NEW_PASSWORD)).account_id == client.account_id


async def test_only_operators_issue_codes_for_accounts_that_exist(api: Api, people: People) -> None:
    path = f"/v1/admin/accounts/{people.client.account_id}/reset-code"
    for who in (people.coach, people.client):
        refused = await api.call("POST", path, token=who.access_token)
        assert (refused.status, refused.code) == (403, "forbidden")
    unknown = await api.call(
        "POST", "/v1/admin/accounts/no-such-account/reset-code", token=people.operator.access_token
    )
    assert (unknown.status, unknown.code) == (404, "not_found")
    assert (await api.call("POST", path)).status == 401


async def test_reset_attempts_are_rate_limited_per_address_and_per_account(
    api: Api, people: People
) -> None:
    # Per address (HAVEN_RATE_RESET_ADDRESS, bursts of 10): the eleventh is refused.
    statuses = [
        (await reset(api, people, f"nobody{n}", "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF")).status
        for n in range(11)
    ]
    assert statuses == [400] * 10 + [429]
    # Per account (HAVEN_RATE_RESET_ACCOUNT, bursts of 5), from ever new addresses.
    answers = []
    for _ in range(6):
        people.address = f"10.200.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
        answers.append(await reset(api, people, people.client.handle, "AAAA-BBBB-CCCC-DDDD"))
    assert [a.status for a in answers] == [400] * 5 + [429]
    assert int(answers[-1].headers["Retry-After"]) > 0


async def test_haven_admin_issues_a_reset_code_by_handle(
    api: Api, people: People, app_stack: AppStack, tmp_path: Path
) -> None:
    admin = await Person.create(app_stack.gateway_url, tmp_path, "admin", BOOTSTRAP_OPERATOR[1])
    signed_in = await admin.arun("login", "--handle", BOOTSTRAP_OPERATOR[0], admin=True)
    assert signed_in.returncode == 0, signed_in.stderr
    [issued] = await admin.json("accounts", "reset-code", people.client.handle, admin=True)
    assert issued["account_id"] == people.client.account_id and CODE.match(issued["code"])
    human = await admin.arun("accounts", "reset-code", people.client.handle, admin=True)
    assert human.returncode == 0 and "single use" in human.stdout
    newest = re.search(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){5}", human.stdout)
    assert newest is not None
    assert (await reset(api, people, people.client.handle, issued["code"])).status == 400
    assert (await reset(api, people, people.client.handle, newest.group(0))).status == 204
    unknown = await admin.arun("accounts", "reset-code", "nobody_here", admin=True)
    assert unknown.returncode != 0 and "nobody_here" in unknown.stderr


async def test_the_devices_get_a_calm_content_free_push(api: Api, people: People) -> None:
    arrived: list[dict[str, object]] = []
    got = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        arrived.append(json.loads(await request.read()))
        got.set()
        return web.Response(status=204)

    async with serving_posts("/push", receive) as port:
        body = {"url": f"http://127.0.0.1:{port}/push", "secret": "s" * 40}
        path = f"/v1/devices/{people.client.device_id}/push"
        assert (await api.call("PUT", path, body, people.client.access_token)).status == 200
        code = await issue(api, people.operator, people.client.account_id)
        assert (await reset(api, people, people.client.handle, code)).status == 204
        await asyncio.wait_for(got.wait(), 15)
    assert arrived == [
        {
            "event": "password_reset",
            "text": "Your password was changed. Sign in again with your new password.",
        }
    ]


@pytest.mark.parametrize("stack_overrides", [{"HAVEN_RESET_CODE_HOURS": "0.0006"}])
async def test_a_reset_code_expires_and_issuing_is_rate_limited(
    api: Api,
    operator: Session,
    stack_overrides: dict[str, str],
    mongo_client: AsyncMongoClient,
    isolation: tuple[str, str],
) -> None:
    coach = await api.onboard(operator, "coach", "coach_rsx")
    path = f"/v1/admin/accounts/{coach.account_id}/reset-code"
    issued = await api.call("POST", path, token=operator.access_token)
    assert issued.status == 201
    # The code lives 2.16 s from when it was issued...
    codes = mongo_client[f"{isolation[1]}_gateway"]["reset_codes"]
    stored = await codes.find_one({"account_id": coach.account_id, "used_at": None})
    assert stored is not None
    assert stored["expires_at"] - stored["created_at"] == timedelta(seconds=2.16)
    # ...and once that time has passed (moved back, not waited for) it is refused.
    await codes.update_one(
        {"_id": stored["_id"]}, {"$set": {"expires_at": utcnow() - timedelta(milliseconds=1)}}
    )
    body = {"handle": coach.handle, "code": issued.body["code"], "new_password": NEW_PASSWORD}
    late = await api.call("POST", "/v1/password-resets", body)
    assert (late.status, late.code) == (400, "reset_invalid")
    assert (await api.login(coach.handle, coach.password)).account_id == coach.account_id
    # Issuing is rate limited per operator (HAVEN_RATE_RESET_CODE, bursts of 5).
    statuses = [
        (await api.call("POST", path, token=operator.access_token)).status for _ in range(5)
    ]
    assert statuses == [201] * 4 + [429]
