"""Views: history on a new device — the backup key, linking a device, password resets."""

from __future__ import annotations

from aiohttp import web

from services.gateway.edge.http import caller, endpoint, no_content, parse, render
from services.gateway.edge.keys import backups_key
from services.gateway.model.schemas import BackupOut, BackupPut


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
    return render(
        BackupOut(
            backup_id=backup.backup_id,
            kx_key=backup.kx_key,
            signatures=backup.signatures,
            created_at=backup.created_at,
        )
    )


@endpoint("GET", "/v1/me/backup", "The account's current backup key", response=BackupOut)
async def get_backup(request: web.Request) -> web.Response:
    backup, earlier = await request.app[backups_key].current(caller(request))
    return render(
        BackupOut(
            backup_id=backup.backup_id,
            kx_key=backup.kx_key,
            signatures=backup.signatures,
            created_at=backup.created_at,
            earlier_backup_ids=earlier,
        )
    )


@endpoint("DELETE", "/v1/me/backup", "Remove the account's backup key", status=204)
async def delete_backup(request: web.Request) -> web.Response:
    await request.app[backups_key].remove(caller(request))
    return no_content()
