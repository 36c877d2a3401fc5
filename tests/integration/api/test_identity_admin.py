"""Operator tooling (`haven-admin`: once as a process of its own, then in-process) and device
expiry."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import timedelta

from pymongo import AsyncMongoClient

from services.gateway.stores.accounts import DeviceRepository
from shared.events import utcnow
from tests.integration.api.conftest import NewOperator
from tests.support.cli import HAVEN_ADMIN, run_in_process
from tests.support.inprocess import AppStack
from tools.api import Api, Session


async def test_haven_admin_creates_an_operator_who_can_log_in(
    api: Api, app_stack: AppStack
) -> None:
    env = {**app_stack.env, "HAVEN_ADMIN_PASSWORD": "second-operator-pw"}
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.gateway.cli.admin", "create-operator", "--handle", "ops2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    session = await api.login("ops2", "second-operator-pw")
    assert session.role == "operator"
    again = await run_in_process([*HAVEN_ADMIN, "create-operator", "--handle", "ops2"], env)
    assert again.returncode == 1


async def test_devices_unseen_for_the_expiry_period_are_warned_then_revoked(
    api: Api,
    operator: Session,
    app_stack: AppStack,
    mongo_client: AsyncMongoClient,
    isolation: tuple[str, str],
) -> None:
    """With the default 90 days: never revoked unwarned (the warning names a date at least 14
    days ahead), revoked once that date passed unused; a device that is used starts over."""
    devices = mongo_client[f"{isolation[1]}_gateway"]["devices"]
    used = await api.login(operator.handle, operator.password, name="old tablet")
    dusty = await api.login(operator.handle, operator.password, name="old phone")
    stale = await api.login(operator.handle, operator.password, name="old laptop")
    await api.login(operator.handle, operator.password, keys=operator.keys)  # seen last: kept
    long_ago = utcnow() - timedelta(days=91)
    ids = [used.device_id, dusty.device_id, stale.device_id]
    await devices.update_many({"_id": {"$in": ids}}, {"$set": {"last_seen_at": long_ago}})
    # Unwarned, a refresh is a use: a new period, not a sign-out.
    kept = await api.call("POST", "/v1/sessions/refresh", {"refresh_token": used.refresh_token})
    assert kept.status == 200
    # The sweep every gateway runs at start (then hourly) warns the others.
    await app_stack.stop("gateway")
    await app_stack.start("gateway")
    api.base = app_stack.gateway_url  # the restarted gateway listens on a port of its own
    # Both warned: the sweep has written its last device (the writes below must not race it).
    async with asyncio.timeout(10):
        while (
            await devices.count_documents({"_id": {"$in": ids}, "expiry_warning": {"$ne": None}})
            < 2
        ):
            await asyncio.sleep(0.1)
    warned = await devices.find_one({"_id": stale.device_id})
    assert warned["revoked_at"] is None
    assert warned["expiry_warning"]["expires_at"] >= utcnow() + timedelta(days=13, hours=23)
    assert (await devices.find_one({"_id": used.device_id})).get("expiry_warning") is None
    # Fourteen days later (the warning's date has passed), unused: signed out on refresh...
    past = utcnow() - timedelta(seconds=1)
    due = await devices.update_many(
        {"_id": {"$in": [dusty.device_id, stale.device_id]}},
        {"$set": {"expiry_warning.expires_at": past}},
    )
    assert due.modified_count == 2
    refused = await api.call("POST", "/v1/sessions/refresh", {"refresh_token": stale.refresh_token})
    assert refused.status == 401
    assert (await devices.find_one({"_id": stale.device_id}))["revoked_at"] is not None
    # ...and by the sweep.
    await app_stack.stop("gateway")
    await app_stack.start("gateway")
    async with asyncio.timeout(10):
        while (await devices.find_one({"_id": dusty.device_id}))["revoked_at"] is None:
            await asyncio.sleep(0.1)
    for device_id in (operator.device_id, used.device_id):
        assert (await devices.find_one({"_id": device_id}))["revoked_at"] is None


async def test_a_use_and_an_end_of_a_device_meet_on_its_document(
    api: Api, new_operator: NewOperator, mongo_client: AsyncMongoClient, isolation: tuple[str, str]
) -> None:
    """The store's half of a refresh racing an expiry or a revocation: an expiry read before a
    use does not sign the device out, and a use after the end does not count (the refresh that
    makes it is refused)."""
    store = DeviceRepository(mongo_client[f"{isolation[1]}_gateway"])
    owner = await new_operator()
    device = await store.by_id(owner.device_id)
    assert device is not None
    later = device.last_seen_at + timedelta(seconds=5)
    assert await store.touch(device.device_id, device.session, later)
    assert not await store.revoke(device.device_id, later, unseen_since=device.last_seen_at)
    assert (await store.by_id(device.device_id)).active  # type: ignore[union-attr]
    assert not await store.touch(device.device_id, device.session - 1, later)  # an older session
    assert await store.revoke(device.device_id, later, unseen_since=later)
    assert not await store.touch(device.device_id, device.session, later)
    refused = await api.call("POST", "/v1/sessions/refresh", {"refresh_token": owner.refresh_token})
    assert refused.status == 401
