"""Unauthenticated sockets are capped per address, and an IPv6 client is one address per /64:
rotating through the addresses of its own network must not open more waiting sockets."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.support.addresses import behind
from tests.support.inprocess import AppStack
from tests.support.ws import closed_with, next_frame, ws_url
from tools.api import Api, Session

CAP = 8  # the default per-address budget of unauthenticated sockets


@pytest.fixture
def stack_overrides() -> dict[str, str]:
    # The test's own loopback connection plays a reverse proxy naming the client's address.
    return {"HAVEN_TRUSTED_PROXIES": "127.0.0.1/32"}


async def test_ipv6_clients_are_capped_per_64_not_per_address(
    api: Api, operator: Session, app_stack: AppStack
) -> None:
    url = ws_url(app_stack)
    parked = [
        await api.http.ws_connect(url, headers=behind(f"2001:db8:1:2::{n + 1:x}"))
        for n in range(CAP)
    ]
    try:
        # Another address of the same /64 is the same client.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await api.http.ws_connect(url, headers=behind("2001:db8:1:2:ffff::9"))
        assert refused.value.status == 429
        # A neighbouring /64 is someone else, and so is an IPv4 client.
        for other in ("2001:db8:1:3::1", "192.0.2.7"):
            async with api.http.ws_connect(url, headers=behind(other)) as admitted:
                await admitted.send_json({"type": "auth", "access_token": operator.access_token})
                assert await next_frame(admitted) == {"type": "ready"}
        # Authenticating frees the slot for that /64.
        await parked[0].send_json({"type": "auth", "access_token": operator.access_token})
        assert await next_frame(parked[0]) == {"type": "ready"}
        async with api.http.ws_connect(url, headers=behind("2001:db8:1:2::abcd")) as again:
            await again.send_json({"type": "auth", "access_token": "nonsense"})
            assert await closed_with(again) == 4401
    finally:
        await asyncio.gather(*(ws.close() for ws in parked))
