"""Registration cannot enumerate handles, nor spend the password-hash pool on taken ones."""

from __future__ import annotations

import re

from tests.support.inprocess import AppStack
from tools.api import Api, Session


async def hashes_so_far(api: Api, app_stack: AppStack) -> float:
    async with api.http.get(f"{app_stack.ops_url}/metrics") as response:
        text = await response.text()
    found = re.search(
        r'^haven_password_hash_operations_total\{operation="hash"\} (\S+)$', text, re.M
    )
    return float(found.group(1)) if found else 0.0


async def test_one_invite_answers_a_few_handle_conflicts_without_hashing_then_is_burnt(
    api: Api, operator: Session, app_stack: AppStack
) -> None:
    coach = await api.onboard(operator, "coach", "coach_taken")
    code = await api.invite(operator, "coach")
    before = await hashes_so_far(api, app_stack)
    answers = [
        await api.register(handle, "a-password-123", code)
        for handle in ("coach_taken", operator.handle, "COACH_TAKEN")
    ]
    assert [a.status for a in answers] == [409, 409, 409]
    assert await hashes_so_far(api, app_stack) == before  # the handle is checked before any hash
    burnt = await api.register("coach_free", "a-password-123", code)
    assert burnt.status == 400 and burnt.code == "invite_invalid"
    # A fresh invite still works for a free handle; the existing account is untouched.
    fresh = await api.invite(operator, "coach")
    assert (await api.register("coach_free", "a-password-123", fresh)).status == 201
    assert (await api.login(coach.handle, coach.password)).account_id == coach.account_id
