"""The push guard through the running services: special-purpose address ranges and ports other
than 443 are refused at registration, and the delivery id is covered by the signature."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import pytest

from tests.integration.api.test_notifications_api import SECRET, Receiver, receiver
from tests.integration.api.test_websocket import coach_and_client
from tests.support.inprocess import AppStack
from tools.api import Api, Session, seal_for

__all__ = ["receiver"]  # the fixture, shared with test_notifications_api

SPECIAL = [
    "192.0.0.9",  # IETF protocol assignments (Python calls it global)
    "192.0.0.170",
    "192.31.196.1",  # AS112
    "192.52.193.1",  # AMT
    "192.88.99.1",  # 6to4 relay anycast
    "192.175.48.1",  # AS112 direct delegation
    "198.18.0.1",  # benchmarking
    "fec0::1",  # site-local (deprecated, still routed inside some networks)
    "3fff::1",  # documentation
    "64:ff9b:1::1",  # local-use NAT64
    "2001:4:112::1",  # AS112-v6
    "2620:4f:8000::1",  # AS112-v6 direct delegation
    "100::1",  # discard-only
    "5f00::1",  # SRv6 SIDs
]


# One stack for the module's tests (tests/support/sharing.py): each registers its own URLs.
SHARED_STACK: dict[str, str] = {
    "HAVEN_PUSH_INSECURE_ALLOW_LOOPBACK": "1",
    "HAVEN_PUSH_ALLOWED_HOSTS": f"127.0.0.1,push.example.org,8.8.8.8,{','.join(SPECIAL)}",
    "HAVEN_PUSH_COLLAPSE_SECONDS": "1",
    "HAVEN_PUSH_SWEEP_SECONDS": "0.2",
}


def url_of(address: str, port: str = "") -> str:
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}{port}/push"


async def register(api: Api, session: Session, url: str) -> int:
    reply = await api.call(
        "PUT",
        f"/v1/devices/{session.device_id}/push",
        {"url": url, "secret": SECRET},
        session.access_token,
    )
    if reply.status == 422:
        assert [e["field"] for e in reply.body["errors"]] == ["url"], reply.body
    return reply.status


async def test_special_purpose_addresses_are_refused_even_when_allowlisted(
    api: Api, operator: Session, app_stack: AppStack
) -> None:
    admitted = [a for a in SPECIAL if await register(api, operator, url_of(a)) != 422]
    assert admitted == []
    assert await register(api, operator, url_of("8.8.8.8")) == 200  # a public address passes


@pytest.mark.parametrize("port", [":8443", ":22", ":25", ":6379", ":80"])
async def test_push_urls_may_use_port_443_only(
    api: Api, operator: Session, app_stack: AppStack, port: str
) -> None:
    assert await register(api, operator, url_of("8.8.8.8", port)) == 422
    assert await register(api, operator, url_of("8.8.8.8", ":443")) == 200


async def test_the_delivery_id_is_covered_by_the_signature(
    api: Api, operator: Session, app_stack: AppStack, receiver: Receiver
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "signed")
    assert await register(api, coach, receiver.url) == 200  # the loopback development switch
    envelope = seal_for(client, cid, devices, "hello")
    sent = await api.call(
        "POST", f"/v1/conversations/{cid}/messages", {"envelope": envelope}, client.access_token
    )
    assert sent.status == 202
    async with asyncio.timeout(20):
        await receiver.arrived.wait()
    headers, body = receiver.received[0]
    timestamp, delivery = headers["X-Haven-Timestamp"], headers["X-Haven-Delivery"]
    signed = f"{timestamp}.{delivery}.".encode() + body
    expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["X-Haven-Delivery-Signature"] == f"sha256={expected}"
    contract = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert headers["X-Haven-Signature"] == f"sha256={contract.hexdigest()}"
    assert json.loads(body)["conversation_id"] == cid
