"""Every answer to an urgent send carries the crisis resources — also the answers given before
the send logic runs: 401 (no or bad token), 413 (body too large), 422 (body validation)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tools.api import Api, Reply, Session, device_keys_of, seal_for

SHARED_STACK: dict[str, str] = {}  # one stack for this module (tests/support/sharing.py)


@dataclass
class Pair:
    client: Session
    conversation_id: str
    envelope: dict[str, Any]
    resources: list[dict[str, str]]


@pytest.fixture
async def pair(api: Api, operator: Session) -> Pair:
    tag = uuid.uuid4().hex[:8]
    coach = await api.onboard(operator, "coach", f"coach_edge{tag}")
    client = await api.onboard(coach, "client", f"client_edge{tag}")
    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    cid = listed.body["conversations"][0]["conversation_id"]
    devices = await device_keys_of(api, client, coach.account_id, client.account_id)
    envelope = seal_for(client, cid, devices, urgent=True)
    resources = (await api.call("GET", "/v1/crisis-resources")).body["resources"]
    assert resources
    return Pair(client, cid, envelope, resources)


def _path(pair: Pair) -> str:
    return f"/v1/conversations/{pair.conversation_id}/messages"


def _with_resources(reply: Reply, pair: Pair, status: int) -> None:
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert reply.body["crisis_resources"] == pair.resources, reply.body


async def test_an_urgent_send_without_a_valid_token_still_gets_crisis_resources(
    api: Api, pair: Pair
) -> None:
    body = {"envelope": pair.envelope}
    _with_resources(await api.call("POST", _path(pair), body), pair, 401)
    _with_resources(await api.call("POST", _path(pair), body, token="not.a.token"), pair, 401)
    compact = json.dumps(body, separators=(",", ":")).encode()
    _with_resources(await api.call("POST", _path(pair), raw=compact), pair, 401)
    calm = {"envelope": {**pair.envelope, "urgent": False}}
    plain = await api.call("POST", _path(pair), calm)
    assert plain.status == 401 and "crisis_resources" not in plain.body


async def test_an_urgent_send_refused_by_body_validation_gets_crisis_resources(
    api: Api, pair: Pair
) -> None:
    token = pair.client.access_token
    extra = {"envelope": pair.envelope, "note": "unexpected"}
    _with_resources(await api.call("POST", _path(pair), extra, token), pair, 422)
    garbage = {"envelope": {"urgent": True, "nonce": 7, "surprise": [1, 2]}}
    _with_resources(await api.call("POST", _path(pair), garbage, token), pair, 422)
    broken = b'{"envelope": {"urgent": true, "nonce": '
    _with_resources(await api.call("POST", _path(pair), raw=broken, token=token), pair, 422)
    ok = await api.call("POST", _path(pair), {"envelope": pair.envelope}, token)
    assert ok.status == 202 and ok.body["crisis_resources"] == pair.resources


async def test_an_urgent_send_over_the_body_limit_gets_crisis_resources(
    api: Api, pair: Pair
) -> None:

    token = pair.client.access_token
    huge = {"envelope": {**pair.envelope, "ciphertext": "A" * 200_000}}
    _with_resources(await api.call("POST", _path(pair), huge, token), pair, 413)
    _with_resources(await api.call("POST", _path(pair), huge), pair, 413)  # no token either
    calm = {"envelope": {**huge["envelope"], "urgent": False}}
    plain = await api.call("POST", _path(pair), calm, token)
    assert plain.status == 413 and plain.code == "payload_too_large"
    assert "crisis_resources" not in plain.body
