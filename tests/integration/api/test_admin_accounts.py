"""Operators list and deactivate accounts over the API: deactivation signs every device out at
once and stops sign-in; only operators may, never on themselves; bad queries are 4xx."""

from __future__ import annotations

from tests.support.inprocess import AppStack
from tests.support.ws import closed_with, next_frame, ws_url
from tools.api import Api, Session, coach_and_client


async def test_deactivating_a_client_closes_their_socket_and_stops_sign_in(
    app_stack: AppStack, api: Api, operator: Session
) -> None:
    coach, client, _, _ = await coach_and_client(api, operator, "deact")
    headers = {"Authorization": f"Bearer {client.access_token}"}
    async with api.http.ws_connect(ws_url(app_stack), headers=headers) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        done = await api.call(
            "POST",
            f"/v1/admin/accounts/{client.account_id}/deactivate",
            token=operator.access_token,
        )
        assert done.status == 200 and done.body["status"] == "deactivated"
        assert await closed_with(ws) == 4403
    again = await api.call(
        "POST", f"/v1/admin/accounts/{client.account_id}/deactivate", token=operator.access_token
    )
    assert again.status == 200  # idempotent
    refused = await api.call(
        "POST",
        "/v1/sessions",
        {
            "handle": client.handle,
            "password": client.password,
            "device": client.keys.block(client.handle),
        },
    )
    assert refused.status == 401
    refresh = await api.call(
        "POST", "/v1/sessions/refresh", {"refresh_token": client.refresh_token}
    )
    assert refresh.status == 401
    listed = await api.call("GET", "/v1/admin/accounts?role=client", token=operator.access_token)
    assert {a["handle"]: a["status"] for a in listed.body["accounts"]} == {
        client.handle: "deactivated"
    }
    audit = await api.call("GET", "/v1/admin/audit?limit=50", token=operator.access_token)
    deactivations = [e for e in audit.body["entries"] if e["type"] == "account_deactivated"]
    assert [e["account_id"] for e in deactivations] == [client.account_id]
    assert coach.handle  # the coach is untouched


async def test_only_operators_manage_accounts_and_never_their_own(
    app_stack: AppStack, api: Api, operator: Session
) -> None:
    coach, client, _, _ = await coach_and_client(api, operator, "noadmin")
    for session in (coach, client):
        assert (
            await api.call("GET", "/v1/admin/accounts", token=session.access_token)
        ).status == 403
        denied = await api.call(
            "POST",
            f"/v1/admin/accounts/{operator.account_id}/deactivate",
            token=session.access_token,
        )
        assert denied.status == 403
    own = await api.call(
        "POST", f"/v1/admin/accounts/{operator.account_id}/deactivate", token=operator.access_token
    )
    assert own.status == 409
    unknown = await api.call(
        "POST", "/v1/admin/accounts/nobody/deactivate", token=operator.access_token
    )
    assert unknown.status == 404
    for query in ("role=admin", "limit=0", "limit=x"):
        bad = await api.call("GET", f"/v1/admin/accounts?{query}", token=operator.access_token)
        assert bad.status == 400 and bad.body["code"] == "invalid_request", query


async def test_accounts_are_paged_in_handle_order(
    app_stack: AppStack, api: Api, operator: Session
) -> None:
    await coach_and_client(api, operator, "page")
    first = await api.call("GET", "/v1/admin/accounts?limit=2", token=operator.access_token)
    assert len(first.body["accounts"]) == 2 and first.body["next_after"]
    rest = await api.call(
        "GET",
        f"/v1/admin/accounts?limit=2&after={first.body['next_after']}",
        token=operator.access_token,
    )
    handles = [a["handle"] for a in first.body["accounts"] + rest.body["accounts"]]
    assert handles == sorted(handles) and len(handles) == 3 and rest.body["next_after"] is None
