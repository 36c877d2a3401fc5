"""X-Forwarded-For is believed only from a configured trusted proxy."""

from __future__ import annotations

from unittest.mock import MagicMock

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from services.gateway.edge.http import client_address
from services.gateway.edge.keys import settings_key
from services.gateway.settings import GatewaySettings


def request(peer: str, forwarded: str | None, trusted: str) -> web.Request:
    app = web.Application()
    app[settings_key] = GatewaySettings(trusted_proxies=trusted)
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    transport = MagicMock()
    transport.get_extra_info.return_value = (peer, 12345)
    return make_mocked_request(
        "POST", "/v1/sessions", headers=headers, app=app, transport=transport
    )


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address(request("198.51.100.7", "203.0.113.9", "")) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_nearest_untrusted_hop_counts() -> None:
    req = request("10.0.0.2", "203.0.113.9, 192.0.2.1, 10.0.0.3", "10.0.0.0/8")
    assert client_address(req) == "192.0.2.1"


def test_a_peer_outside_the_trusted_range_cannot_spoof() -> None:
    req = request("198.51.100.7", "203.0.113.9", "10.0.0.0/8")
    assert client_address(req) == "198.51.100.7"


def test_every_forwarded_header_line_counts_and_mapped_addresses_match() -> None:
    app = web.Application()
    app[settings_key] = GatewaySettings(trusted_proxies="10.0.0.0/8")
    from multidict import CIMultiDict

    headers = CIMultiDict(
        [("X-Forwarded-For", "198.51.100.99"), ("X-Forwarded-For", "203.0.113.5")]
    )
    transport = MagicMock()
    transport.get_extra_info.return_value = ("::ffff:10.0.0.2", 12345)
    req = make_mocked_request("POST", "/v1/sessions", headers=headers, app=app, transport=transport)
    assert client_address(req) == "203.0.113.5"
