"""Crisis-ready by default, for real: the example crisis-resources file a fresh install points
at is not served (no client invites until an operator sets local resources), and a `coach_away`
notice carries the crisis resources, through the running services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from tests.support.inprocess import AppStack
from tests.support.ws import next_frame, ws_url
from tools.api import Api, Session, coach_and_client, seal_for
from tools.stack import TEST_CRISIS_RESOURCE

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "crisis-resources.example.json"
ALL_WEEK = [
    {"day": d, "start": "00:00", "end": "24:00"}
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
]


class TestAFreshInstallWithTheExampleFile:
    @pytest.fixture
    def stack_overrides(self) -> dict[str, str]:
        # What compose (HAVEN_CRISIS_RESOURCES_HOST_FILE's default) and `make up` start with.
        return {"HAVEN_CRISIS_RESOURCES_FILE": str(EXAMPLE)}

    async def test_the_example_is_not_served_and_client_invites_wait_for_local_resources(
        self, api: Api, operator: Session, app_stack: AppStack
    ) -> None:
        public = await api.call("GET", "/v1/crisis-resources")
        assert public.status == 200 and public.body == {"resources": []}
        coach = await api.onboard(operator, "coach", "coach_fresh")
        refused = await api.call("POST", "/v1/invites", {"kind": "client"}, coach.access_token)
        assert refused.status == 409 and refused.body["code"] == "crisis_resources_missing"
        await app_stack.wait_for_log("gateway", event="crisis_resources_example_ignored")

        put = await api.call(
            "PUT",
            "/v1/admin/crisis-resources",
            {"resources": [TEST_CRISIS_RESOURCE]},
            operator.access_token,
        )
        assert put.status == 204
        invite = await api.call("POST", "/v1/invites", {"kind": "client"}, coach.access_token)
        assert invite.status == 201


async def next_of_type(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, object]:
    while True:
        frame = await next_frame(ws)
        if frame["type"] == kind:
            return frame


async def test_a_coach_away_notice_carries_the_crisis_resources(
    api: Api, operator: Session, app_stack: AppStack
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "away")
    now = datetime.now(UTC)
    away = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(days=2)).isoformat(),
        "message": "On leave this week.",
        "backup_contact": "Sam at the practice, 555-0100",
    }
    availability = {
        "time_zone": "UTC",
        "weekly": ALL_WEEK,
        "response_time_hours": 24,
        "away_message": "I read messages in my working hours.",
        "away": away,
    }
    put = await api.call("PUT", "/v1/me/availability", availability, coach.access_token)
    assert put.status == 200, put.body
    headers = {"Authorization": f"Bearer {client.access_token}"}
    async with api.http.ws_connect(ws_url(app_stack), headers=headers) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        envelope = seal_for(client, cid, devices, "are you there?")
        sent = await api.call(
            "POST", f"/v1/conversations/{cid}/messages", {"envelope": envelope}, client.access_token
        )
        assert sent.status == 202, sent.body
        notice = await next_of_type(ws, "coach_away")
    assert notice["conversation_id"] == cid
    assert notice["backup_contact"] == away["backup_contact"]
    assert notice["crisis_resources"] == [TEST_CRISIS_RESOURCE]
