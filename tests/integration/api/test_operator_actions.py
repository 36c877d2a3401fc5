"""Operator actions: `haven-admin` (against the services' store) refuses placeholder or weak
passwords; crisis-resource changes are audited."""

from __future__ import annotations

from pymongo import AsyncMongoClient

from tests.support.cli import HAVEN_ADMIN, run_in_process
from tests.support.inprocess import AppStack
from tools.api import PLACEHOLDERS, Api, Session


async def test_haven_admin_refuses_a_placeholder_or_weak_password(
    app_stack: AppStack, mongo_client: AsyncMongoClient, isolation: tuple[str, str]
) -> None:
    results = [
        await run_in_process(
            [*HAVEN_ADMIN, "create-operator", "--handle", f"weak{n}"],
            {**app_stack.env, "HAVEN_ADMIN_PASSWORD": password},
        )
        for n, password in enumerate(PLACEHOLDERS)
    ]
    for password, result in zip(PLACEHOLDERS, results, strict=True):
        assert result.returncode == 2, (password, result.stdout, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "password" in result.stderr
        assert password not in result.stderr and password not in result.stdout
    accounts = mongo_client[f"{isolation[1]}_gateway"]["accounts"]
    assert await accounts.count_documents({"role": "operator"}) == 1  # the bootstrap one only


async def test_changing_crisis_resources_is_audited_with_the_operator(
    api: Api, operator: Session
) -> None:
    resources = {
        "resources": [
            {
                "name": "Crisis line",
                "contact": "0800 111 0 111",
                "description": "Free, day and night.",
                "region": "DE",
            }
        ]
    }
    coach = await api.onboard(operator, "coach", "coach_crisis")
    refused = await api.call("PUT", "/v1/admin/crisis-resources", resources, coach.access_token)
    assert refused.status == 403
    changed = await api.call("PUT", "/v1/admin/crisis-resources", resources, operator.access_token)
    assert changed.status == 204
    public = await api.call("GET", "/v1/crisis-resources")
    assert public.body["resources"] == resources["resources"]
    page = await api.call("GET", "/v1/admin/audit?limit=200", token=operator.access_token)
    entries = [e for e in page.body["entries"] if e["type"] == "crisis_resources_changed"]
    assert len(entries) == 1
    [entry] = entries
    assert entry["account_id"] == operator.account_id
    assert entry["device_id"] == operator.device_id
    assert entry["details"]["count"] == 1
