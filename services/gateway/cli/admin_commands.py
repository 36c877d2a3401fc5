"""`haven-admin` commands that act through the HTTP API as a signed-in operator."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from haven_client.cli import copy
from haven_client.cli.context import Options, client_for, pass_options, secret
from haven_client.cli.render import resource_lines
from haven_client.client import HavenClient
from haven_client.errors import HavenError

FOLLOW_SECONDS = 2.0


@click.command()
@click.option("--handle", required=True)
@pass_options
async def login(options: Options, handle: str) -> None:
    """Sign in as an operator on this machine (password: HAVEN_ADMIN_PASSWORD or a prompt)."""
    password = os.environ.get("HAVEN_ADMIN_PASSWORD") or secret("HAVEN_PASSWORD", "Password: ")
    async with client_for(options, create=True, resume=False) as client:
        await client.login(handle, password, device_name="haven-admin")
        me = await client.me()
        if me.role != "operator":
            await client.logout()
            raise HavenError(copy.NOT_AN_OPERATOR.format(handle=me.handle))
    options.output.emit({"account_id": me.account_id}, f"Signed in as operator {me.handle}.")


@click.command("invite-coach")
@pass_options
async def invite_coach(options: Options) -> None:
    """A single-use invite code for a new coach (share it privately)."""
    async with client_for(options) as client:
        created = await client.create_invite("coach")
    options.output.emit(
        created.model_dump(mode="json"),
        f"Coach invite: [bold]{created.code}[/] (single use, expires "
        f"{created.expires_at:%Y-%m-%d %H:%M %Z}).\n"
        f"The coach runs: haven register --handle NAME --invite {created.code}",
    )


@click.group()
def accounts() -> None:
    """List accounts, deactivate one, or issue a password reset code."""


@accounts.command("list")
@click.option("--role", type=click.Choice(["client", "coach", "operator"]))
@pass_options
async def accounts_list(options: Options, role: str | None) -> None:
    """Every account in handle order (with --role, of one role)."""
    table = Table("handle", "role", "status", "created", "account", box=None)
    async with client_for(options) as client:
        async for account in _all_accounts(client, role):
            options.output.emit(account)
            table.add_row(
                account["handle"],
                account["role"],
                account["status"],
                account["created_at"][:10],
                account["account_id"],
            )
    options.output.say(table)


async def _all_accounts(client: HavenClient, role: str | None) -> AsyncIterator[dict[str, Any]]:
    after: str | None = None
    while True:
        params = {
            "limit": "200",
            **({"role": role} if role else {}),
            **({"after": after} if after else {}),
        }
        page = await client.transport.request("GET", "/v1/admin/accounts", params=params)
        for account in page["accounts"]:
            yield account
        after = page["next_after"]
        if after is None:
            return


@accounts.command("deactivate")
@click.argument("account")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_options
async def accounts_deactivate(options: Options, account: str, yes: bool) -> None:
    """Deactivate an account (handle or id): no sign-in, every device revoked at once."""
    if not yes:
        click.confirm(f"Deactivate {account}? Its devices are signed out at once", abort=True)
    async with client_for(options) as client:
        account_id = await _account_id(client, account)
        done = await client.transport.request("POST", f"/v1/admin/accounts/{account_id}/deactivate")
    options.output.emit(done, f"{done['handle']} is {done['status']}.")


@accounts.command("reset-code")
@click.argument("account")
@pass_options
async def accounts_reset_code(options: Options, account: str) -> None:
    """A one-time password reset code for an account (handle or id). Give it to the person in
    private; with it they set a new password, and every session of theirs ends."""
    async with client_for(options) as client:
        account_id = await _account_id(client, account)
        issued = await client.transport.request(
            "POST", f"/v1/admin/accounts/{account_id}/reset-code"
        )
    options.output.emit(
        {"account_id": account_id, **issued},
        f"Reset code for {account}: [bold]{issued['code']}[/] (single use, expires "
        f"{issued['expires_at'][:16].replace('T', ' ')} UTC).\n"
        "Give it to them in private. They choose a new password with it; their devices and"
        " history stay, and every session ends.",
    )


async def _account_id(client: HavenClient, account: str) -> str:
    async for found in _all_accounts(client, None):
        if account in (found["account_id"], found["handle"]):
            return str(found["account_id"])
    raise HavenError(copy.NO_SUCH_ACCOUNT.format(account=account))


@click.group("crisis-resources")
def crisis_resources() -> None:
    """What a client in crisis is shown at once (required before clients can be invited)."""


@crisis_resources.command("show")
@pass_options
async def crisis_show(options: Options) -> None:
    """The resources currently published."""
    async with client_for(options) as client:
        resources = await client.crisis_resources(refresh=True)
    for resource in resources:
        options.output.emit(resource.model_dump())
        region = f" (region {resource.region})" if resource.region else ""
        options.output.say(resource_lines([resource], markup=True) + region)
    if not resources:
        options.output.say("No crisis resources are set: coaches cannot invite clients yet.")


@crisis_resources.command("set")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@pass_options
async def crisis_set(options: Options, file: Path) -> None:
    """Replace them from a JSON file: {"resources": [{"name", "contact", "description",
    "region"}]} (or just the list); '-' reads stdin."""
    resources = _resources(file, options.stdin.read() if str(file) == "-" else None)
    async with client_for(options) as client:
        await client.transport.request(
            "PUT", "/v1/admin/crisis-resources", json={"resources": resources}
        )
    options.output.emit({"resources": len(resources)}, f"{len(resources)} crisis resources set.")


def _resources(path: Path, text: str | None) -> list[Any]:
    try:
        loaded = json.loads(text if text is not None else path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HavenError(copy.UNREADABLE_FILE.format(path=path, reason=exc.strerror)) from None
    except ValueError as exc:
        raise HavenError(copy.NOT_JSON.format(path=path, reason=exc)) from None
    resources = loaded.get("resources") if isinstance(loaded, dict) else loaded
    if not isinstance(resources, list):
        raise HavenError(copy.NOT_RESOURCES)
    return resources


@click.command()
@click.option("--limit", default=20, show_default=True, help="Entries per page.")
@click.option("--pages", default=1, show_default=True, help="How many pages back to show.")
@click.option("--follow", is_flag=True, help="Keep printing new entries as they happen.")
@pass_options
async def audit(options: Options, limit: int, pages: int, follow: bool) -> None:
    """Security events, newest first (metadata only: never content)."""
    async with client_for(options) as client:
        seen: set[str] = set()
        before: str | None = None
        for _ in range(pages):
            page = await _audit_page(client, limit, before)
            for entry in page["entries"]:
                _show_entry(options, entry, seen)
            before = page["next_before"]
            if before is None:
                break
        while follow:
            await asyncio.sleep(FOLLOW_SECONDS)
            page = await _audit_page(client, limit, None)
            for entry in reversed(page["entries"]):
                _show_entry(options, entry, seen)


async def _audit_page(client: HavenClient, limit: int, before: str | None) -> Any:
    params = {"limit": str(limit), **({"before": before} if before else {})}
    return await client.transport.request("GET", "/v1/admin/audit", params=params)


def _show_entry(options: Options, entry: dict[str, Any], seen: set[str]) -> None:
    if entry["event_id"] in seen:
        return
    seen.add(entry["event_id"])
    details = " ".join(f"{k}={v}" for k, v in (entry.get("details") or {}).items())
    options.output.emit(
        entry,
        f"{entry['at'][:19]} [bold]{entry['type']}[/] account={entry.get('account_id')} "
        f"device={entry.get('device_id')} {details}",
    )


@click.group()
def agreement() -> None:
    """The messaging agreement clients accept before they can send."""


@agreement.command("publish")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@click.option("--version", "version", required=True, help="A new version name, e.g. 2026-12.")
@pass_options
async def agreement_publish(options: Options, file: Path, version: str) -> None:
    """Publish FILE (plain text) as the current agreement; clients accept it again."""
    text = options.stdin.read() if str(file) == "-" else await asyncio.to_thread(_read, file)
    async with client_for(options) as client:
        published = await client.api.publish_agreement(version, text)
    options.output.emit(
        published.model_dump(mode="json"), f"Agreement {published.version} published."
    )


@agreement.command("show")
@pass_options
async def agreement_show(options: Options) -> None:
    """The agreement currently published."""
    async with client_for(options) as client:
        current = await client.safety.agreement()
    options.output.emit(current.model_dump(mode="json"), f"{current.version}:\n{current.text}")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HavenError(copy.UNREADABLE_FILE.format(path=path, reason=exc.strerror)) from None


COMMANDS = [login, invite_coach, accounts, crisis_resources, agreement, audit]
