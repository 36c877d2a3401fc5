"""Refresh-token replay across a signing-key rotation: still one token chain, never two.

The tests share the module's stack (each rotates its gateway's key once more), each with an
operator device of its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from services.gateway.security.tokens import generate_pem
from tools.api import Api, Session
from tools.stack import BOOTSTRAP_OPERATOR, Stack


@pytest.fixture
async def operator(shared_api: Api) -> Session:
    """The bootstrap operator on a new device: only this test's tokens are that device's."""
    return await shared_api.login(*BOOTSTRAP_OPERATOR)


async def _rotate_gateway_key(stack: Stack, directory: Path) -> None:
    """Restart the gateway signing with a new key; the old one only verifies."""
    new_key = directory / "rotated_signing_key"
    new_key.write_bytes(generate_pem())
    await asyncio.to_thread(stack.stop, "gateway")
    stack.env["HAVEN_PREVIOUS_SIGNING_KEY_FILES"] = stack.env["HAVEN_SIGNING_KEY_FILE"]
    stack.env["HAVEN_SIGNING_KEY_FILE"] = str(new_key)
    await asyncio.to_thread(stack.start, "gateway")
    await asyncio.to_thread(stack.wait_ready)


async def test_a_replay_within_grace_after_key_rotation_returns_the_same_successor(
    shared_api: Api, operator: Session, stoppable_stack: Stack, tmp_path: Path
) -> None:
    api, stack = shared_api, stoppable_stack
    first = await api.call(
        "POST", "/v1/sessions/refresh", {"refresh_token": operator.refresh_token}
    )
    assert first.status == 200
    await _rotate_gateway_key(stack, tmp_path)
    async with aiohttp.ClientSession() as http:  # fresh connections to the restarted gateway
        rotated = Api(http, stack.gateway_url)
        me = await rotated.call("GET", "/v1/me", token=first.body["access_token"])
        assert me.status == 200  # signed with the previous key, still verified
        replay = await rotated.call(
            "POST", "/v1/sessions/refresh", {"refresh_token": operator.refresh_token}
        )
        assert replay.status == 200, replay.body
        assert replay.body["refresh_token"] == first.body["refresh_token"]
        # One chain: its next link is spent once; the old link is spent already.
        onward = await rotated.call(
            "POST", "/v1/sessions/refresh", {"refresh_token": first.body["refresh_token"]}
        )
        assert onward.status == 200
        assert onward.body["refresh_token"] not in {
            first.body["refresh_token"],
            operator.refresh_token,
        }


async def test_a_token_from_before_seeds_is_refused_rather_than_forking_after_rotation(
    shared_api: Api,
    operator: Session,
    stoppable_stack: Stack,
    tmp_path: Path,
    shared_mongo: AsyncMongoClient,
    shared_names: tuple[str, str],
) -> None:
    api, stack, device = shared_api, stoppable_stack, {"device_id": operator.device_id}
    tokens = shared_mongo[f"{shared_names[1]}_gateway"]["refresh_tokens"]
    await tokens.update_many(device, {"$unset": {"successor_seed": ""}})  # as older code did
    first = await api.call(
        "POST", "/v1/sessions/refresh", {"refresh_token": operator.refresh_token}
    )
    assert first.status == 200
    await _rotate_gateway_key(stack, tmp_path)
    async with aiohttp.ClientSession() as http:
        rotated = Api(http, stack.gateway_url)
        replay = await rotated.call(
            "POST", "/v1/sessions/refresh", {"refresh_token": operator.refresh_token}
        )
        assert replay.status == 401  # its successor cannot be derived again: no second chain
        assert await tokens.count_documents({**device, "spent_at": None}) == 1
        onward = await rotated.call(
            "POST", "/v1/sessions/refresh", {"refresh_token": first.body["refresh_token"]}
        )
        assert onward.status == 200  # the one chain goes on
