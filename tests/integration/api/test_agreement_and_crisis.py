"""The messaging agreement (versions, consent before sending, reading stays) and crisis-ready
deployments (no client invites until crisis resources are set), through the services."""

from __future__ import annotations

import asyncio

import pytest
from pymongo import AsyncMongoClient

from services.gateway.stores.agreements import AgreementRepository
from tools.api import Api, Session, coach_and_client, seal_for
from tools.stack import TEST_CRISIS_RESOURCE


async def send(api: Api, who: Session, cid: str, devices: dict[str, bytes]) -> tuple[int, dict]:
    envelope = seal_for(who, cid, devices)
    reply = await api.call(
        "POST", f"/v1/conversations/{cid}/messages", {"envelope": envelope}, who.access_token
    )
    return reply.status, reply.body


async def test_a_client_sends_only_under_the_current_agreement_and_always_reads(
    api: Api, operator: Session
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "consent")
    none = await api.call("GET", "/v1/agreement", token=client.access_token)
    assert none.status == 404
    assert (await send(api, client, cid, devices))[0] == 202  # none published: none required

    refused = await api.call(
        "PUT", "/v1/admin/agreement", {"version": "v1", "text": "…"}, coach.access_token
    )
    assert refused.status == 403
    v1 = {"version": "2026-11", "text": "Scope, response times, retention; not a crisis service."}
    published = await api.call("PUT", "/v1/admin/agreement", v1, operator.access_token)
    assert published.status == 200 and published.body["version"] == "2026-11"
    changed = await api.call(
        "PUT", "/v1/admin/agreement", {**v1, "text": "another"}, operator.access_token
    )
    assert changed.status == 409  # a version's text never changes

    status, body = await send(api, client, cid, devices)
    assert status == 403 and body["code"] == "consent_required" and body["version"] == "2026-11"
    assert (await send(api, coach, cid, devices))[0] == 202  # coaches are not asked
    async with asyncio.timeout(10):  # reading stays: both messages arrive in history
        while True:
            history = await api.call(
                "GET", f"/v1/conversations/{cid}/messages", token=client.access_token
            )
            assert history.status == 200
            if len(history.body["messages"]) == 2:
                break
            await asyncio.sleep(0.1)

    shown = await api.call("GET", "/v1/agreement", token=client.access_token)
    assert shown.body["accepted"] is False and shown.body["text"] == v1["text"]
    stale = await api.call(
        "POST", "/v1/agreement/accept", {"version": "2020-01"}, client.access_token
    )
    assert stale.status == 409
    accepted = await api.call(
        "POST", "/v1/agreement/accept", {"version": "2026-11"}, client.access_token
    )
    assert accepted.status == 200 and accepted.body["accepted"] is True
    assert (await send(api, client, cid, devices))[0] == 202

    v2 = {"version": "2027-01", "text": "Updated response times."}
    assert (await api.call("PUT", "/v1/admin/agreement", v2, operator.access_token)).status == 200
    status, body = await send(api, client, cid, devices)
    assert status == 403 and body["version"] == "2027-01"  # a new version asks again
    await api.call("POST", "/v1/agreement/accept", {"version": "2027-01"}, client.access_token)
    assert (await send(api, client, cid, devices))[0] == 202

    withdrawn = await api.call("POST", "/v1/agreement/withdraw", token=client.access_token)
    assert withdrawn.status == 204
    assert (await send(api, client, cid, devices))[0] == 403


async def test_consent_records_are_append_only_per_account(
    api: Api,
    operator: Session,
    mongo_client: AsyncMongoClient,
    stack_environment: dict[str, str],
) -> None:
    _, client, _, _ = await coach_and_client(api, operator, "records")
    await api.call(
        "PUT", "/v1/admin/agreement", {"version": "a", "text": "t"}, operator.access_token
    )
    for path, body in (
        ("accept", {"version": "a"}),
        ("withdraw", None),
        ("withdraw", None),  # nothing to withdraw: not recorded again
        ("accept", {"version": "a"}),
    ):
        reply = await api.call("POST", f"/v1/agreement/{path}", body, client.access_token)
        assert reply.status < 300
    db = mongo_client[f"{stack_environment['HAVEN_DB_PREFIX']}_gateway"]
    records = await AgreementRepository(db).consents_of(client.account_id)
    assert [(r.kind, r.version) for r in records] == [
        ("accepted", "a"),
        ("withdrawn", "a"),
        ("accepted", "a"),
    ]


class TestWithoutCrisisResources:
    @pytest.fixture
    def stack_overrides(self) -> dict[str, str]:
        return {"HAVEN_CRISIS_RESOURCES_FILE": ""}

    async def test_client_invites_wait_until_crisis_resources_are_set(
        self, api: Api, operator: Session
    ) -> None:
        public = await api.call("GET", "/v1/crisis-resources")
        assert public.status == 200 and public.body == {"resources": []}  # no generic fallback
        coach = await api.onboard(operator, "coach", "coach_ready")
        refused = await api.call("POST", "/v1/invites", {"kind": "client"}, coach.access_token)
        assert refused.status == 409 and refused.body["code"] == "crisis_resources_missing"
        empty = await api.call(
            "PUT", "/v1/admin/crisis-resources", {"resources": []}, operator.access_token
        )
        assert empty.status == 422

        put = await api.call(
            "PUT",
            "/v1/admin/crisis-resources",
            {"resources": [TEST_CRISIS_RESOURCE]},
            operator.access_token,
        )
        assert put.status == 204
        invite = await api.call("POST", "/v1/invites", {"kind": "client"}, coach.access_token)
        assert invite.status == 201
        public = await api.call("GET", "/v1/crisis-resources")
        assert public.body["resources"] == [TEST_CRISIS_RESOURCE]
