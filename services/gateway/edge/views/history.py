"""Views: history on a new device — the backup key, linking a device, password resets."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from services.gateway.edge.http import (
    caller,
    client_address,
    endpoint,
    no_content,
    parse,
    render,
)
from services.gateway.edge.keys import backups_key, linking_key, resets_key
from services.gateway.model.records import Backup, Link
from services.gateway.model.schemas import (
    BackupOut,
    BackupPut,
    LinkList,
    LinkOut,
    LinkPost,
    LinkSent,
    PasswordResetRequest,
    ResetCodeOut,
)


@endpoint(
    "PUT",
    "/v1/me/backup",
    "Publish the account's backup key (replaces any earlier one)",
    body=BackupPut,
    response=BackupOut,
)
async def put_backup(request: web.Request) -> web.Response:
    body = await parse(request, BackupPut)
    backup = await request.app[backups_key].publish(caller(request), body)
    return render(_backup_out(backup))


@endpoint("GET", "/v1/me/backup", "The account's current backup key", response=BackupOut)
async def get_backup(request: web.Request) -> web.Response:
    backup, earlier = await request.app[backups_key].current(caller(request))
    return render(_backup_out(backup, earlier))


@endpoint("DELETE", "/v1/me/backup", "Remove the account's backup key", status=204)
async def delete_backup(request: web.Request) -> web.Response:
    await request.app[backups_key].remove(caller(request))
    return no_content()


@endpoint(
    "POST",
    "/v1/devices/{device_id}/link",
    "Send a new device of your account a secret boxed to its key (delivered once)",
    body=LinkPost,
    response=LinkSent,
    status=201,
)
async def post_link(request: web.Request) -> web.Response:
    body = await parse(request, LinkPost)
    link = await request.app[linking_key].send(
        caller(request), request.match_info["device_id"], body
    )
    return render(LinkSent(link_id=link.link_id, expires_at=link.expires_at), 201)


def _backup_out(backup: Backup, earlier: Sequence[str] = ()) -> BackupOut:
    return BackupOut(
        backup_id=backup.backup_id,
        kx_key=backup.kx_key,
        signatures=backup.signatures,
        created_at=backup.created_at,
        earlier_backup_ids=list(earlier),
    )


def _link_out(link: Link) -> LinkOut:
    return LinkOut(
        link_id=link.link_id,
        sender_device_id=link.sender_device_id,
        ciphertext=link.ciphertext,
        created_at=link.created_at,
        expires_at=link.expires_at,
    )


@endpoint("GET", "/v1/me/links", "Links waiting for this device", response=LinkList)
async def list_links(request: web.Request) -> web.Response:
    found = await request.app[linking_key].pending(caller(request))
    return render(LinkList(links=[_link_out(link) for link in found]))


@endpoint(
    "DELETE",
    "/v1/me/links/{link_id}",
    "Acknowledge a link: this device stored its secret (the link is deleted)",
    status=204,
)
async def acknowledge_link(request: web.Request) -> web.Response:
    await request.app[linking_key].acknowledge(caller(request), request.match_info["link_id"])
    return no_content()


@endpoint(
    "POST",
    "/v1/admin/accounts/{account_id}/reset-code",
    "Issue a one-time password reset code for an account (operators)",
    response=ResetCodeOut,
    status=201,
    tag="operations",
)
async def issue_reset_code(request: web.Request) -> web.Response:
    code, expires_at = await request.app[resets_key].issue(
        caller(request), request.match_info["account_id"]
    )
    return render(ResetCodeOut(code=code, expires_at=expires_at), 201)


@endpoint(
    "POST",
    "/v1/password-resets",
    "Set a new password with an operator's reset code (every session ends)",
    auth=False,
    body=PasswordResetRequest,
    status=204,
)
async def reset_password(request: web.Request) -> web.Response:
    body = await parse(request, PasswordResetRequest)
    await request.app[resets_key].reset(body, client_address(request))
    return no_content()
