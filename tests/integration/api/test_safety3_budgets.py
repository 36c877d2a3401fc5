"""Safety round 3 (issue 18, items 3, 4 and 5) through the running services: deletions, pause
changes and successful logins (per account and per address, IPv6 by /64) have budgets."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.addresses import login_from
from tools.api import Api, Reply, Session, coach_and_client, seal_for

BUDGETS = {
    "HAVEN_TRUSTED_PROXIES": "127.0.0.1/32",
    "HAVEN_RATE_PAUSE": "3/hour,3",
    "HAVEN_RATE_DELETE": "2/hour,2",
    "HAVEN_RATE_LOGIN_ACCOUNT": "3/hour,3",
    "HAVEN_RATE_LOGIN_ADDRESS": "4/hour,4",
}


@pytest.fixture
def stack_overrides() -> dict[str, str]:
    return BUDGETS


def _limited(reply: Reply) -> bool:
    return (
        reply.status == 429
        and reply.code == "rate_limited"
        and int(reply.headers["Retry-After"]) >= 1
    )


async def test_pause_resume_and_repause_share_one_budget_per_conversation(
    api: Api, operator: Session
) -> None:
    coach, _client, cid, _ = await coach_and_client(api, operator, "pbudget")
    steps = [("pause", {"reason": "a"}), ("resume", {}), ("pause", {"reason": "b"})]
    for path, body in steps:
        reply = await api.call("POST", f"/v1/conversations/{cid}/{path}", body, coach.access_token)
        assert reply.status == 200, (path, reply.body)
    again = await api.call(
        "POST", f"/v1/conversations/{cid}/pause", {"reason": "c"}, coach.access_token
    )
    assert _limited(again), again.body
    resume = await api.call("POST", f"/v1/conversations/{cid}/resume", {}, coach.access_token)
    assert _limited(resume), resume.body
    listed = await api.call("GET", "/v1/conversations", token=coach.access_token)
    assert listed.body["conversations"][0]["pause"]["reason"] == "b"  # nothing changed


async def test_deletions_for_everyone_are_rate_limited(api: Api, operator: Session) -> None:
    _coach, client, cid, devices = await coach_and_client(api, operator, "dbudget")
    ids = []
    for _ in range(3):
        envelope = seal_for(client, cid, devices)
        sent = await api.call(
            "POST",
            f"/v1/conversations/{cid}/messages",
            {"envelope": envelope},
            client.access_token,
        )
        assert sent.status == 202
        ids.append(envelope["message_id"])
    async with asyncio.timeout(10):
        while True:
            page = await api.call(
                "GET", f"/v1/conversations/{cid}/messages", token=client.access_token
            )
            if len(page.body["messages"]) >= 3:
                break
            await asyncio.sleep(0.05)
    replies = [
        await api.call("DELETE", f"/v1/conversations/{cid}/messages/{m}", token=client.access_token)
        for m in ids
    ]
    assert [r.status for r in replies[:2]] == [202, 202]
    assert _limited(replies[2]), replies[2].body


async def test_successful_logins_have_a_budget_per_account(api: Api, operator: Session) -> None:
    coach = await api.onboard(operator, "coach", "coach_lbudget")  # its first login
    for n in (1, 2):
        ok = await login_from(api, coach.handle, coach.password, f"10.0.0.{n}")
        assert ok.status == 201, ok.body
    over = await login_from(api, coach.handle, coach.password, "10.0.0.3")
    assert _limited(over), over.body
    wrong = await login_from(api, coach.handle, "not the password at all", "10.0.0.4")
    assert _limited(wrong)  # the same answer either way: a spent budget is no password oracle


async def test_successful_logins_have_a_budget_per_address_ipv6_by_64(
    api: Api, operator: Session
) -> None:
    coach = await api.onboard(operator, "coach", "coach_abudget")
    people = []
    for n in range(5):
        handle, password = f"client_abudget{n}", f"client-abudget-password-{n}"
        registered = await api.register(handle, password, await api.invite(coach, "client"))
        assert registered.status == 201, registered.body
        people.append((handle, password))
    for n, (handle, password) in enumerate(people[:4]):
        ok = await login_from(api, handle, password, f"2001:db8:1:1::{n + 1:x}")
        assert ok.status == 201, ok.body
    handle, password = people[4]
    over = await login_from(api, handle, password, "2001:db8:1:1:ffff::9")  # same /64
    assert _limited(over), over.body
    elsewhere = await login_from(api, handle, password, "2001:db8:1:2::1")
    assert elsewhere.status == 201, elsewhere.body
