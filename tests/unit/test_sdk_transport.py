"""haven_client transport policy: https, or plain http only to loopback or by explicit opt-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from haven_client import HavenClient, InsecureTransport
from tests.sdk_fakes.harness import new_keystore


@pytest.mark.parametrize(
    "url",
    [
        "https://haven.example",
        "https://haven.example:8443/base",
        "http://127.0.0.1:8080",
        "http://127.8.9.10",
        "http://localhost:8080",
        "http://LOCALHOST",
        "http://[::1]:8080",
        "http://[::ffff:127.0.0.1]",
    ],
)
async def test_https_and_loopback_http_are_accepted(tmp_path: Path, url: str) -> None:
    client = HavenClient(url, await new_keystore(tmp_path / "k"))
    await client.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://haven.example",
        "http://10.0.0.5:8080",
        "http://localhost.haven.example",
        "http://128.0.0.1",
        "ws://haven.example",
        "ftp://haven.example",
        "haven.example",
        "https://",
    ],
)
async def test_other_servers_without_tls_are_refused(tmp_path: Path, url: str) -> None:
    store = await new_keystore(tmp_path / "k")
    try:
        with pytest.raises(InsecureTransport, match="https"):
            HavenClient(url, store)
    finally:
        store.close()


async def test_plain_http_to_another_host_needs_an_explicit_opt_in(tmp_path: Path) -> None:
    client = HavenClient(
        "http://haven.internal:8080", await new_keystore(tmp_path / "k"), allow_insecure_http=True
    )
    assert client.transport.base_url == "http://haven.internal:8080"
    await client.close()


async def test_a_stored_server_url_is_held_to_the_same_rule(tmp_path: Path) -> None:
    store = await new_keystore(tmp_path / "k")
    store.state.server_url = "http://haven.example"
    try:
        with pytest.raises(InsecureTransport):
            HavenClient(None, store)
    finally:
        store.close()
