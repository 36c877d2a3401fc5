"""The reverse-proxy examples operators copy from docs/deploy.md cap connections and requests
per client address: docs/SECURITY.md leaves floods beyond Haven's own limits to the proxy."""

from __future__ import annotations

import re
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def _block(language: str) -> str:
    found = re.findall(rf"```{language}\n(.*?)```", DEPLOY.read_text(encoding="utf-8"), re.S)
    assert len(found) >= 1, f"no {language} example in deploy.md"
    return str(found[0])


def test_the_nginx_example_limits_connections_and_requests_per_address() -> None:
    nginx = _block("nginx")
    conn = re.search(r"limit_conn_zone \$binary_remote_addr zone=(\w+):\d+m;", nginx)
    req = re.search(r"limit_req_zone\s+\$binary_remote_addr zone=(\w+):\d+m rate=\d+r/s;", nginx)
    assert conn and req
    tls = nginx[nginx.index("listen 443") :]
    assert re.search(rf"limit_conn {conn[1]} \d+;", tls)
    assert re.search(rf"limit_req zone={req[1]} burst=\d+", tls)
    assert "limit_conn_status 429;" in tls and "limit_req_status 429;" in tls


def test_the_caddy_example_limits_requests_per_address() -> None:
    caddy = _block("caddy")
    assert "order rate_limit before reverse_proxy" in caddy
    assert re.search(r"rate_limit \{\s*zone \w+ \{\s*key \{remote_host\}", caddy)
    assert "ct count over" in DEPLOY.read_text(encoding="utf-8")  # connections: the firewall
