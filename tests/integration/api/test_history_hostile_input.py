"""Hostile input to the history and attachment endpoints (#22, #23), through the running
services: wrong types, missing fields, huge values, bad base64, wrong content types and odd
path parameters are each a 4xx problem+json with a stable code — never a 500 — and change
nothing; and a reset attempt for an unknown handle is answered exactly as one for a real
account, also once the per-account budget is spent."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from haven_crypto import crypto
from tools.api import Api, Session

SHARED_STACK: dict[str, str] = {
    "HAVEN_TRUSTED_PROXIES": "127.0.0.1/32",
    # The one operator issues every test's codes.
    "HAVEN_RATE_RESET_CODE": "1000/hour,1000",
}

B64_32 = crypto.b64e(bytes(range(32)))
B64_64 = crypto.b64e(bytes(64))

BAD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    10**40,
    1.5,
    "",
    "not base64!",
    "A" * 100_000,
    [],
    [B64_32],
    {},
    {"$gt": ""},
]


def _assert_problem(status: int, body: object, headers: dict[str, str], what: str) -> None:
    assert 400 <= status < 500, (what, status, body)
    assert headers.get("Content-Type", "").startswith("application/problem+json"), what
    assert isinstance(body, dict) and isinstance(body.get("code"), str), (what, body)


@pytest.fixture
async def phone(api: Api, operator: Session) -> Session:
    tag = uuid.uuid4().hex[:8]
    coach = await api.onboard(operator, "coach", f"coach_hi{tag}")
    return await api.onboard(coach, "client", f"client_hi{tag}")


async def test_backup_and_link_bodies_of_every_wrong_shape_are_4xx(
    api: Api, phone: Session
) -> None:
    laptop = await api.login(phone.handle, phone.password, name="laptop")
    good_backup = {"kx_key": B64_32, "signatures": {phone.device_id: B64_64}}
    good_link = {"ciphertext": crypto.b64e(bytes(64)), "sender_device_id": phone.device_id}
    link_path = f"/v1/devices/{laptop.device_id}/link"
    cases: list[tuple[str, str, dict[str, Any]]] = []
    for field in ("kx_key", "signatures"):
        for value in BAD_VALUES:
            cases.append(("PUT", "/v1/me/backup", good_backup | {field: value}))
        cases.append(("PUT", "/v1/me/backup", {k: v for k, v in good_backup.items() if k != field}))
    for value in BAD_VALUES:
        if isinstance(value, str | int | float | bool) or value is None:
            cases.append(("PUT", "/v1/me/backup", good_backup | {"signatures": {"x": value}}))
        cases.append(("PUT", "/v1/me/backup", good_backup | {"signatures": {"": B64_64}}))
        for field in ("ciphertext", "sender_device_id"):
            cases.append(("POST", link_path, good_link | {field: value}))
    many = {f"dev{n}": B64_64 for n in range(500)}
    cases.append(("PUT", "/v1/me/backup", good_backup | {"signatures": many}))
    for method, path, body in cases:
        reply = await api.call(method, path, body, phone.access_token)
        _assert_problem(reply.status, reply.body, reply.headers, f"{method} {path} {body!r:.200}")
    for method, path in (("PUT", "/v1/me/backup"), ("POST", link_path)):
        for raw, content_type in (
            (b"{not json", "application/json"),
            (b"[]", "application/json"),
            (b"null", "application/json"),
            (b'{"kx_key": "', "application/json"),
            (b"\xff\xfe\x00", "application/json"),
            (b"kx_key=1", "application/x-www-form-urlencoded"),
            (b"", "text/plain"),
        ):
            reply = await api.call(
                method,
                path,
                token=phone.access_token,
                raw=raw,
                headers={"Content-Type": content_type},
            )
            _assert_problem(reply.status, reply.body, reply.headers, f"{method} {path} {raw!r}")
    # Odd path parameters: not found, never a crash.
    for odd in ("%00", "a" * 2000, "%24where", "..%2F..%2Fv1%2Fme"):
        for method, path in (
            ("POST", f"/v1/devices/{odd}/link"),
            ("DELETE", f"/v1/me/links/{odd}"),
        ):
            body = good_link if method == "POST" else None
            reply = await api.call(method, path, body, phone.access_token)
            _assert_problem(reply.status, reply.body, reply.headers, f"{method} {path[:80]}")
    # Nothing of it was stored.
    assert (await api.call("GET", "/v1/me/backup", token=phone.access_token)).status == 404
    links = await api.call("GET", "/v1/me/links", token=laptop.access_token)
    assert links.body == {"links": []}


async def test_reset_and_reset_code_bodies_of_every_wrong_shape_are_4xx(
    api: Api, phone: Session, operator: Session
) -> None:
    good = {"handle": phone.handle, "code": "AAAA-BBBB", "new_password": "a new password 123"}
    cases: list[dict[str, Any]] = []
    for field in good:
        for value in BAD_VALUES:
            cases.append(good | {field: value})
        cases.append({k: v for k, v in good.items() if k != field})
    for n, body in enumerate(cases):
        # Each from its own address: the per-address budget is not what is tested here.
        headers = {"X-Forwarded-For": f"10.77.{n // 250}.{n % 250}"}
        reply = await api.call("POST", "/v1/password-resets", body, headers=headers)
        _assert_problem(reply.status, reply.body, reply.headers, f"reset {body!r:.200}")
    for odd in ("%00", "a" * 2000, "%24where", "..%2F..%2Fme"):
        path = f"/v1/admin/accounts/{odd}/reset-code"
        reply = await api.call("POST", path, token=operator.access_token)
        _assert_problem(reply.status, reply.body, reply.headers, path[:80])
    # The password did not change.
    again = await api.login(phone.handle, phone.password, name="after")
    assert again.account_id == phone.account_id


async def test_a_reset_for_an_unknown_handle_looks_like_one_for_a_real_account(
    api: Api, phone: Session
) -> None:
    """The per-account budget must not tell who exists: six wrong codes for a real handle and
    six for a made-up one, each from a new address, get the same answers."""

    async def attempts(handle: str) -> list[tuple[int, str | None]]:
        answers = []
        for _ in range(6):
            address = f"10.201.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
            body = {"handle": handle, "code": "AAAA-BBBB-CCCC", "new_password": "x new password 9"}
            reply = await api.call(
                "POST", "/v1/password-resets", body, headers={"X-Forwarded-For": address}
            )
            answers.append((reply.status, reply.code))
        return answers

    real = await attempts(phone.handle)
    made_up = await attempts(f"nobody_{uuid.uuid4().hex[:10]}")
    assert real == made_up
    assert real[-1][0] == 429  # the budget is there, for both


async def test_one_code_sent_by_many_at_once_resets_once(
    api: Api, phone: Session, operator: Session
) -> None:
    issued = await api.call(
        "POST", f"/v1/admin/accounts/{phone.account_id}/reset-code", token=operator.access_token
    )
    assert issued.status == 201, issued.body
    passwords = [f"parallel password {n:02d}" for n in range(4)]  # within the per-handle burst

    async def attempt(n: int) -> int:
        body = {"handle": phone.handle, "code": issued.body["code"], "new_password": passwords[n]}
        headers = {"X-Forwarded-For": f"10.88.{n}.1"}
        return (await api.call("POST", "/v1/password-resets", body, headers=headers)).status

    statuses = await asyncio.gather(*(attempt(n) for n in range(len(passwords))))
    assert sorted(statuses) == [204] + [400] * (len(passwords) - 1), statuses
    winner = passwords[statuses.index(204)]
    for password in passwords:
        body = {
            "handle": phone.handle,
            "password": password,
            "device": phone.keys.block(phone.handle),
        }
        login = await api.call("POST", "/v1/sessions", body)
        assert login.status == (201 if password == winner else 401), (password, login.body)


async def test_a_login_racing_a_reset_with_the_old_password_does_not_outlive_it(
    api: Api, phone: Session, operator: Session
) -> None:
    """Logins with the old password that checked it while the reset ran must not get a session
    that survives the reset (the reset ends the sessions it sees; a login must see the reset)."""
    issued = await api.call(
        "POST", f"/v1/admin/accounts/{phone.account_id}/reset-code", token=operator.access_token
    )
    assert issued.status == 201, issued.body
    body = {"handle": phone.handle, "password": phone.password}

    async def old_login(n: int) -> Any:
        await asyncio.sleep(n * 0.01)
        device = {"device": phone.keys.block(phone.handle)}
        headers = {"X-Forwarded-For": f"10.99.{n}.1"}
        return await api.call("POST", "/v1/sessions", body | device, headers=headers)

    async def do_reset() -> Any:
        await asyncio.sleep(0.03)
        reset = {"handle": phone.handle, "code": issued.body["code"], "new_password": "racy 12345"}
        return await api.call("POST", "/v1/password-resets", reset)

    *logins, done = await asyncio.gather(*(old_login(n) for n in range(8)), do_reset())
    assert done.status == 204, done.body
    for login in logins:
        if login.status != 201:
            continue
        me = await api.call("GET", "/v1/me", token=login.body["access_token"])
        assert me.status == 401, "a session from the old password outlived the reset"
        refresh = {"refresh_token": login.body["refresh_token"]}
        assert (await api.call("POST", "/v1/sessions/refresh", refresh)).status == 401


async def test_codes_issued_at_once_leave_one_that_works(
    api: Api, phone: Session, operator: Session
) -> None:
    """The newest code of an account is the only one that works — also when several are
    issued at the same moment (two operators, a double click)."""
    path = f"/v1/admin/accounts/{phone.account_id}/reset-code"
    issued = await asyncio.gather(
        *(api.call("POST", path, token=operator.access_token) for _ in range(4))
    )
    assert [reply.status for reply in issued] == [201] * 4
    statuses = []
    for n, reply in enumerate(issued):
        body = {"handle": phone.handle, "code": reply.body["code"], "new_password": f"pw {n} 12345"}
        headers = {"X-Forwarded-For": f"10.66.{n}.1"}
        statuses.append(
            (await api.call("POST", "/v1/password-resets", body, headers=headers)).status
        )
    assert sorted(statuses) == [204, 400, 400, 400], statuses


async def test_history_paging_numbers_past_64_bits_are_422(api: Api, phone: Session) -> None:
    """A new device pages through history (#22): a cursor past what the store holds is bad
    input, not a 500 from the database driver."""
    listed = await api.call("GET", "/v1/conversations", token=phone.access_token)
    cid = listed.body["conversations"][0]["conversation_id"]
    for name in ("after_seq", "before_seq", "limit"):
        for value in (str(2**63), "9" * 40):
            path = f"/v1/conversations/{cid}/messages?{name}={value}"
            reply = await api.call("GET", path, token=phone.access_token)
            _assert_problem(reply.status, reply.body, reply.headers, path)
