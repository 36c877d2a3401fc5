"""Account and device commands: register, login, logout, me, devices, passwords."""

from __future__ import annotations

import click
from rich.table import Table

from haven_client.cli import copy
from haven_client.cli import copy_history as history_copy
from haven_client.cli.context import Options, client_for, new_password, pass_options, secret
from haven_client.errors import HavenError


@click.command()
@click.option("--handle", required=True, help="3 to 32 of a-z 0-9 _ . -")
@click.option("--invite", "invite_code", required=True, help="The invite code you were given.")
@click.option("--display-name", help="The name others see.")
@pass_options
async def register(
    options: Options, handle: str, invite_code: str, display_name: str | None
) -> None:
    """Create an account with an invite (then `haven login`)."""
    password = new_password("HAVEN_PASSWORD")
    if len(password) < 10:
        raise HavenError(copy.PASSWORD_RULE)
    fresh = not options.keystore.exists()
    try:
        async with client_for(options, create=True, resume=False) as client:
            account = await client.register(handle, password, invite_code, display_name)
    except BaseException:
        if fresh:  # a failed registration leaves no keystore behind
            options.keystore.unlink(missing_ok=True)
        raise
    options.output.emit(
        account.model_dump(),
        f"Account [bold]{account.handle}[/] created ({account.role}). "
        f"Next: haven login --handle {account.handle}",
    )


@click.command()
@click.option("--handle", required=True)
@click.option("--device-name", help="How this device shows in your device list.")
@pass_options
async def login(options: Options, handle: str, device_name: str | None) -> None:
    """Sign this device in (its keys are created on first use)."""
    password = secret("HAVEN_PASSWORD", "Password: ")
    async with client_for(options, create=True, resume=False) as client:
        fresh = client.store.device_keys() is None
        me = await client.login(handle, password, device_name=device_name)
        device_id = client.store.state.device_id
        mine = await client.me() if fresh else None
    options.output.emit(
        {"account_id": me.account_id, "device_id": device_id},
        f"Signed in as [bold]{me.handle}[/] on device {device_id}.",
    )
    if mine is not None and (len(mine.devices) > 1 or mine.backups):
        options.output.say(history_copy.NEW_DEVICE_HISTORY)  # docs/history.md


@click.command()
@pass_options
async def logout(options: Options) -> None:
    """Sign this device out; its tokens stop working at once (the keys stay in the keystore)."""
    async with client_for(options) as client:
        await client.logout()
    options.output.emit({"logged_out": True}, "Signed out.")


@click.command()
@pass_options
async def me(options: Options) -> None:
    """Who you are signed in as, on which device."""
    async with client_for(options) as client:
        mine = await client.me()
        device_id = client.store.state.device_id
    record = {**mine.model_dump(mode="json", exclude={"devices"}), "device_id": device_id}
    options.output.emit(
        record,
        f"[bold]{mine.handle}[/] ({mine.role}) {mine.display_name}\n"
        f"account {mine.account_id}, this device {device_id}",
    )


@click.command()
@pass_options
async def devices(options: Options) -> None:
    """Your signed-in devices (revoke a lost one with `haven revoke-device`)."""
    async with client_for(options) as client:
        mine = await client.me()
        current = client.store.state.device_id
    table = Table("device", "name", "added", "last seen", box=None)
    for device in mine.devices:
        marker = " (this one)" if device.device_id == current else ""
        table.add_row(
            device.device_id + marker,
            device.name,
            _when(device.created_at),
            _when(device.last_seen_at),
        )
        options.output.emit(
            {
                **device.model_dump(
                    mode="json", include={"device_id", "name", "created_at", "last_seen_at"}
                ),
                "current": device.device_id == current,
            }
        )
    options.output.say(table)


@click.command("revoke-device")
@click.argument("device_id")
@pass_options
async def revoke_device(options: Options, device_id: str) -> None:
    """Revoke one of your devices: its tokens stop and its sockets close at once."""
    async with client_for(options) as client:
        await client.revoke_device(device_id)
    options.output.emit({"revoked": device_id}, f"Device {device_id} revoked.")


@click.command("change-password")
@click.option(
    "--keep-other-devices",
    is_flag=True,
    help="Leave your other devices signed in (by default they are signed out).",
)
@pass_options
async def change_password(options: Options, keep_other_devices: bool) -> None:
    """Change your password (current from HAVEN_PASSWORD or a prompt, new from
    HAVEN_NEW_PASSWORD or typed twice)."""
    current = secret("HAVEN_PASSWORD", "Current password: ")
    new = new_password("HAVEN_NEW_PASSWORD")
    async with client_for(options) as client:
        await client.api.change_password(current, new, revoke_other_devices=not keep_other_devices)
    others = "kept signed in" if keep_other_devices else "signed out"
    options.output.emit(
        {"changed": True, "other_devices": others}, f"Password changed; other devices {others}."
    )


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else "—"


COMMANDS = [register, login, logout, me, devices, revoke_device, change_password]
