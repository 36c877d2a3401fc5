"""Operator tooling (`haven-admin`: once as a process of its own, then in-process) and device
expiry."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import timedelta

from pymongo import AsyncMongoClient

from shared.events import utcnow
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


async def test_devices_unseen_for_the_expiry_period_are_revoked(
    api: Api,
    operator: Session,
    app_stack: AppStack,
    mongo_client: AsyncMongoClient,
    isolation: tuple[str, str],
) -> None:
    devices = mongo_client[f"{isolation[1]}_gateway"]["devices"]
    stale = await api.login(operator.handle, operator.password, name="old tablet")
    dusty = await api.login(operator.handle, operator.password, name="old phone")
    long_ago = utcnow() - timedelta(days=91)
    await devices.update_many(
        {"_id": {"$in": [stale.device_id, dusty.device_id]}}, {"$set": {"last_seen_at": long_ago}}
    )
    # On refresh, at once:
    refused = await api.call("POST", "/v1/sessions/refresh", {"refresh_token": stale.refresh_token})
    assert refused.status == 401
    assert (await devices.find_one({"_id": stale.device_id}))["revoked_at"] is not None
    # And by the sweep every gateway runs at start (then hourly):
    await app_stack.stop("gateway")
    await app_stack.start("gateway")
    async with asyncio.timeout(10):
        while (await devices.find_one({"_id": dusty.device_id}))["revoked_at"] is None:
            await asyncio.sleep(0.1)
    active = await devices.find_one({"_id": operator.device_id})
    assert active["revoked_at"] is None
