"""Safety round 3 (issue 18, items 2 and 6) through the running services: no device stays
usable on a deactivated account, a deactivated coach's unused invites bring nobody in, and
guessing the password on account deletion ends the session as on a password change."""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo import AsyncMongoClient

from tools.api import Api, DeviceKeys, Reply, Session

SLOW_HASHES = {
    # Logins spend long enough in the hash that a deactivation lands while they are in it.
    "HAVEN_PWHASH_OPSLIMIT": "3",
    "HAVEN_PWHASH_MEMLIMIT_MIB": "32",
}


# One stack for this module's tests (tests/support/sharing.py); each has accounts of its own.
SHARED_STACK: dict[str, str] = SLOW_HASHES


def _gateway(mongo: AsyncMongoClient[Any], isolation: tuple[str, str]) -> Any:
    return mongo[f"{isolation[1]}_gateway"]


async def test_a_device_of_an_account_no_longer_active_is_refused(
    api: Api, operator: Session, mongo_client: AsyncMongoClient[Any], isolation: tuple[str, str]
) -> None:
    coach = await api.onboard(operator, "coach", "coach_stale")
    # What a login racing the deactivation leaves behind: the account is no longer active,
    # the device inserted after the deactivation's sweep still is.
    await _gateway(mongo_client, isolation)["accounts"].update_one(
        {"_id": coach.account_id}, {"$set": {"status": "deactivated"}}
    )
    me = await api.call("GET", "/v1/me", token=coach.access_token)
    assert me.status == 401 and me.code == "unauthorized", me.body


async def test_logins_racing_a_deactivation_leave_no_active_device(
    api: Api, operator: Session, mongo_client: AsyncMongoClient[Any], isolation: tuple[str, str]
) -> None:
    coach = await api.onboard(operator, "coach", "coach_race")

    async def login() -> Reply:
        body = {
            "handle": coach.handle,
            "password": coach.password,
            "device": DeviceKeys().block(coach.handle),
        }
        return await api.call("POST", "/v1/sessions", body)

    logins = [asyncio.create_task(login()) for _ in range(10)]
    await asyncio.sleep(0.02)  # the logins are checking the password
    deactivated = await api.call(
        "POST", f"/v1/admin/accounts/{coach.account_id}/deactivate", token=operator.access_token
    )
    assert deactivated.status == 200, deactivated.body
    replies = await asyncio.gather(*logins)
    assert {r.status for r in replies} <= {201, 401, 429}, [r.body for r in replies]
    devices = _gateway(mongo_client, isolation)["devices"]
    active = await devices.count_documents({"account_id": coach.account_id, "revoked_at": None})
    assert active == 0
    for reply in replies:
        if reply.status == 201:
            me = await api.call("GET", "/v1/me", token=reply.body["access_token"])
            assert me.status == 401, me.body


async def test_a_deactivated_coachs_unused_invites_bring_nobody_in(
    api: Api, operator: Session
) -> None:
    coach = await api.onboard(operator, "coach", "coach_gone")
    other = await api.onboard(operator, "coach", "coach_stays")
    existing = await api.onboard(other, "client", "client_existing")
    for_new, for_existing = await api.invite(coach, "client"), await api.invite(coach, "client")
    deactivated = await api.call(
        "POST", f"/v1/admin/accounts/{coach.account_id}/deactivate", token=operator.access_token
    )
    assert deactivated.status == 200
    accepted = await api.call(
        "POST", "/v1/invites/accept", {"code": for_existing}, existing.access_token
    )
    assert accepted.status == 400 and accepted.code == "invite_invalid", accepted.body
    registered = await api.register("client_new_gone", "a long password here 1", for_new)
    assert registered.status == 400 and registered.code == "invite_invalid", registered.body
    listed = await api.call("GET", "/v1/conversations", token=existing.access_token)
    assert len(listed.body["conversations"]) == 1  # only the coach still here


async def test_five_wrong_passwords_on_account_deletion_end_the_session(
    api: Api, operator: Session
) -> None:
    coach = await api.onboard(operator, "coach", "coach_delguess")
    for n in range(4):
        wrong = await api.call(
            "POST", "/v1/me/delete", {"password": f"guess-{n}"}, coach.access_token
        )
        assert wrong.status == 401
        assert (await api.call("GET", "/v1/me", token=coach.access_token)).status == 200
    fifth = await api.call("POST", "/v1/me/delete", {"password": "guess-4"}, coach.access_token)
    assert fifth.status == 401
    assert (await api.call("GET", "/v1/me", token=coach.access_token)).status == 401
    refresh = await api.call("POST", "/v1/sessions/refresh", {"refresh_token": coach.refresh_token})
    assert refresh.status == 401
    again = await api.login(coach.handle, coach.password, coach.keys)
    assert (await api.call("GET", "/v1/me", token=again.access_token)).status == 200
