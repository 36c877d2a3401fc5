"""Requests from a chosen client address: the test's own loopback connection plays the reverse
proxy (``HAVEN_TRUSTED_PROXIES=127.0.0.1/32``) that names the client in X-Forwarded-For."""

from __future__ import annotations

from typing import Any

from tools.api import Api, DeviceKeys, Reply


def behind(address: str) -> dict[str, str]:
    """The header a trusted proxy adds for a client at ``address``."""
    return {"X-Forwarded-For": address}


async def login_from(api: Api, handle: str, password: str, address: str) -> Reply:
    """A login with a fresh device, as if from ``address``."""
    body: dict[str, Any] = {
        "handle": handle,
        "password": password,
        "device": DeviceKeys().block(handle),
    }
    return await api.call("POST", "/v1/sessions", body, headers=behind(address))
