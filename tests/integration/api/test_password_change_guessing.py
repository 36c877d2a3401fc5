"""A stolen session must not become an unlimited password oracle (`PUT /v1/me/password`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from shared.events import utcnow
from tools.api import Api, Reply, Session

# One stack for this module's tests (tests/support/sharing.py).
SHARED_STACK: dict[str, str] = {}


@pytest.fixture
async def operator(new_operator: Callable[[], Awaitable[Session]]) -> Session:
    """An operator of this test's own: the test ends its session and changes its password."""
    return await new_operator()


async def _change(api: Api, who: Session, current: str, new: str = "a-new-password-9") -> Reply:
    return await api.call(
        "PUT",
        "/v1/me/password",
        {"current_password": current, "new_password": new},
        who.access_token,
    )


async def test_five_wrong_current_passwords_in_a_row_end_the_session(
    api: Api, operator: Session, mongo_client: AsyncMongoClient, isolation: tuple[str, str]
) -> None:
    for n in range(4):
        wrong = await _change(api, operator, f"guess-number-{n}")
        assert wrong.status == 401 and wrong.code == "unauthorized"
        assert (await api.call("GET", "/v1/me", token=operator.access_token)).status == 200
    fifth = await _change(api, operator, "guess-number-4")
    assert fifth.status == 401
    assert (await api.call("GET", "/v1/me", token=operator.access_token)).status == 401
    refresh = await api.call(
        "POST", "/v1/sessions/refresh", {"refresh_token": operator.refresh_token}
    )
    assert refresh.status == 401
    audit = mongo_client[f"{isolation[1]}_gateway"]["audit"]
    ended = await audit.find_one(
        {"type": "password_change_session_ended", "account_id": operator.account_id}
    )
    assert ended is not None
    assert (ended["account_id"], ended["device_id"]) == (operator.account_id, operator.device_id)
    assert "guess-number" not in str(ended)  # never a password in the audit log
    # The owner logs in again (the device resumes) and can still change the password.
    again = await api.login(operator.handle, operator.password, operator.keys)
    changed = await _change(api, again, operator.password)
    assert changed.status == 204
    await api.login(operator.handle, "a-new-password-9")


async def test_a_burst_of_wrong_current_passwords_is_throttled_with_retry_after(
    api: Api, operator: Session
) -> None:
    replies = await asyncio.gather(
        *(_change(api, operator, f"parallel-guess-{n}") for n in range(12))
    )
    statuses = [r.status for r in replies]
    # 5 free attempts, then at most one per back-off window; the session ends on the way.
    assert set(statuses) <= {401, 429}, statuses
    limited = [r for r in replies if r.status == 429]
    assert limited, statuses
    for reply in limited:
        assert reply.code == "rate_limited"
        assert int(reply.headers["Retry-After"]) >= 1
    assert (await api.call("GET", "/v1/me", token=operator.access_token)).status == 401


@pytest.fixture
async def throttle(
    mongo_client: AsyncMongoClient, isolation: tuple[str, str]
) -> AsyncIterator[Any]:
    """The login throttle; the address's back-off a test sets is gone after it (the module's
    other tests guess from the same address)."""
    collection = mongo_client[f"{isolation[1]}_gateway"]["login_throttle"]
    yield collection
    await collection.delete_one({"_id": "a:127.0.0.1"})


async def test_guessing_from_one_address_is_throttled_across_accounts(
    api: Api, operator: Session, throttle: Any
) -> None:
    # The address has used up its free attempts and waits (after guesses with other sessions).
    await throttle.update_one(
        {"_id": "a:127.0.0.1"},
        {"$set": {"failures": 40, "next_allowed_at": utcnow() + timedelta(seconds=60)}},
        upsert=True,
    )
    limited = await _change(api, operator, "address-guess-1")
    assert limited.status == 429 and limited.code == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 61
    assert (await api.call("GET", "/v1/me", token=operator.access_token)).status == 200
