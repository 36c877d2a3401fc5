"""Safety round 3 (issue 18, item 5) through the running services: one address flooding the
login route cannot take every password-hashing slot; another address still gets in."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.addresses import login_from
from tools.api import Api, Session

POOL = {
    "HAVEN_TRUSTED_PROXIES": "127.0.0.1/32",
    "HAVEN_PWHASH_WORKERS": "1",
    "HAVEN_PWHASH_QUEUE": "7",
    # Slow enough hashes that a flood is still in the pool when the other address arrives.
    "HAVEN_PWHASH_OPSLIMIT": "3",
    "HAVEN_PWHASH_MEMLIMIT_MIB": "32",
}


@pytest.fixture
def stack_overrides() -> dict[str, str]:
    return POOL


async def test_a_flood_from_one_address_leaves_hashing_slots_for_others(
    api: Api, operator: Session
) -> None:
    coach = await api.onboard(operator, "coach", "coach_pool")
    flood = [
        asyncio.create_task(login_from(api, f"nobody{n}", "a wrong password", "203.0.113.7"))
        for n in range(16)
    ]
    await asyncio.sleep(0.05)  # the flood is in the pool
    other = await login_from(api, coach.handle, coach.password, "198.51.100.20")
    flooded = await asyncio.gather(*flood)
    assert other.status == 201, other.body
    statuses = [r.status for r in flooded]
    assert set(statuses) <= {401, 429, 503}, statuses
    assert 503 in statuses or 429 in statuses, statuses  # the flood met its share
    for reply in flooded:
        assert reply.status == 401 or reply.headers.get("Retry-After"), reply.body
