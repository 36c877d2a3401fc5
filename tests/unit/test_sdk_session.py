"""haven_client sessions: registration, login with a valid proof, resume, refresh, errors."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import haven_client.keys
from haven_client import (
    HavenApiError,
    InviteInvalid,
    Keystore,
    SessionExpired,
)
from haven_crypto.crypto import b64d, verify_kx_signature, verify_login_proof
from tests.sdk_fakes.harness import (
    PASSPHRASE,
    PASSWORD,
    coach_and_client,
    new_client,
    new_keystore,
)
from tests.sdk_fakes.server import FakeHaven
from tests.sdk_fakes.state import FakeState


def test_device_block_carries_a_valid_kx_signature_and_login_proof() -> None:
    keys = haven_client.DeviceKeys.generate()
    block = keys.device_block("Sam", "phone", ts=1795000000)
    identity, kx = b64d(block["identity_key"]), b64d(block["kx_key"])
    assert identity == keys.identity_public
    assert verify_kx_signature(identity, "sam", kx, b64d(block["kx_signature"]))
    assert verify_login_proof(identity, "sam", 1795000000, kx, b64d(block["proof"]))
    assert not verify_login_proof(identity, "sam", 1795000001, kx, b64d(block["proof"]))


async def test_login_registers_the_device_the_fake_validated(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        store = pair.client.store
        device = pair.fake.state.devices[store.state.device_id or ""]
        keys = store.device_keys()
        assert keys is not None
        assert device.identity_key == keys.identity_public
        assert device.kx_key == keys.kx_public
        assert store.state.account is not None
        assert store.state.account.handle == "client"
        me = await pair.client.me()
        assert [d.device_id for d in me.devices] == [device.device_id]


async def test_second_login_with_the_keystore_resumes_the_same_device(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        first = pair.client.store.state.device_id
        await pair.client.close()
        reopened = await Keystore.open(tmp_path / "client.keystore", PASSPHRASE)
        again = new_client(pair.fake, reopened)
        try:
            await again.login("client", PASSWORD)
            assert again.store.state.device_id == first
            assert len(pair.fake.state.active_devices(pair.client_account_id)) == 1
        finally:
            await again.close()


async def test_expiring_access_token_is_refreshed_before_use(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path, FakeState(access_lifetime=1)) as pair:
        await pair.client.me()
        assert pair.fake.state.refreshes == 0
        await asyncio.sleep(0.8)  # the scenario is time passing: into the last quarter of life
        await pair.client.me()
        assert pair.fake.state.refreshes == 1


async def test_revoked_access_token_is_refreshed_once_on_401(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        pair.fake.state.access.clear()  # the server forgot every access token
        me = await pair.client.me()
        assert me.handle == "client"
        assert pair.fake.state.refreshes == 1


async def test_refused_refresh_token_ends_the_session(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        pair.fake.state.access.clear()
        pair.fake.state.refresh.clear()
        with pytest.raises(SessionExpired):
            await pair.client.me()
        assert pair.client.store.state.refresh_token is None


async def test_session_survives_a_restart_through_the_stored_refresh_token(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.client.close()
        reopened = await Keystore.open(tmp_path / "client.keystore", PASSPHRASE)
        again = new_client(pair.fake, reopened)
        try:
            await again.resume()
            assert (await again.me()).handle == "client"
        finally:
            await again.close()


async def test_clock_skew_is_answered_by_signing_with_the_server_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_clock = SimpleNamespace(time=lambda: time.time() - 3600)
    monkeypatch.setattr(haven_client.keys, "time", slow_clock)
    async with coach_and_client(tmp_path) as pair:
        assert pair.client.store.state.device_id in pair.fake.state.devices
        assert pair.fake.state.clock_skews == 2  # coach and client each retried once


async def test_api_errors_carry_the_problem_code(tmp_path: Path) -> None:
    async with FakeHaven.running() as fake:
        client = new_client(fake, await new_keystore(tmp_path / "k"))
        try:
            with pytest.raises(InviteInvalid) as caught:
                await client.register("sam", PASSWORD, "no-such-invite")
            assert caught.value.status == 400
            assert caught.value.code == "invite_invalid"
            assert isinstance(caught.value, HavenApiError)
        finally:
            await client.close()


async def test_crisis_resources_are_cached_for_offline_use(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.client.close()
    offline_store = await Keystore.open(tmp_path / "client.keystore", PASSPHRASE)
    offline = haven_client.HavenClient("http://127.0.0.1:9", offline_store)
    try:
        resources = await offline.crisis_resources()
        assert [r.contact for r in resources] == ["988"]
        assert (await offline.crisis_resources(refresh=True)) == resources  # no network: cache
    finally:
        await offline.close()


async def test_logout_ends_the_session_but_keeps_the_device_keys(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        keys = pair.client.store.device_keys()
        await pair.client.logout()
        assert pair.client.store.state.refresh_token is None
        assert pair.client.store.device_keys() == keys
        await pair.client.login("client", PASSWORD)
        assert (await pair.client.me()).handle == "client"
