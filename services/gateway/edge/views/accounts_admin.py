"""Operator views over accounts: list them, deactivate one."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from services.gateway.edge.http import caller, endpoint, render
from services.gateway.edge.keys import account_admin_key
from services.gateway.model.records import Account
from services.gateway.model.schemas import Response, Role
from shared.errors import InvalidRequestError

ROLES = ("client", "coach", "operator")


class AdminAccountOut(Response):
    account_id: str
    handle: str
    role: Role
    display_name: str
    status: str
    created_at: datetime


class AdminAccountPage(Response):
    accounts: list[AdminAccountOut]
    next_after: str | None


def _out(account: Account) -> AdminAccountOut:
    return AdminAccountOut(
        account_id=account.account_id,
        handle=account.handle,
        role=account.role,
        display_name=account.display_name,
        status=account.status,
        created_at=account.created_at,
    )


def _query(request: web.Request) -> tuple[str | None, str | None, int]:
    role = request.query.get("role") or None
    if role is not None and role not in ROLES:
        raise InvalidRequestError("role must be client, coach or operator")
    try:
        limit = int(request.query.get("limit") or 50)
    except ValueError as error:
        raise InvalidRequestError("limit must be an integer") from error
    if not 1 <= limit <= 200:
        raise InvalidRequestError("limit must be between 1 and 200")
    return role, request.query.get("after") or None, limit


@endpoint(
    "GET",
    "/v1/admin/accounts",
    "Page through accounts in handle order (operators; ?role=&after=&limit=)",
    response=AdminAccountPage,
    tag="operations",
)
async def list_accounts(request: web.Request) -> web.Response:
    role, after, limit = _query(request)
    found, next_after = await request.app[account_admin_key].page(
        caller(request), role, after, limit
    )
    return render(AdminAccountPage(accounts=[_out(a) for a in found], next_after=next_after))


@endpoint(
    "POST",
    "/v1/admin/accounts/{account_id}/deactivate",
    "Deactivate an account: it cannot sign in and its devices are revoked (operators)",
    response=AdminAccountOut,
    tag="operations",
)
async def deactivate_account(request: web.Request) -> web.Response:
    account_id = request.match_info["account_id"]
    account = await request.app[account_admin_key].deactivate(caller(request), account_id)
    return render(_out(account))
