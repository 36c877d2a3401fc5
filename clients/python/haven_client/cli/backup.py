"""`haven backup enable|restore|disable|status`: your history behind a recovery key.

The recovery key is shown once, on `enable`, and is never stored; `restore` reads it from
standard input (a hidden prompt on a terminal), never from the command line, where shell
history and `ps` would keep it.
"""

from __future__ import annotations

import getpass

import click

from haven_client.cli import copy_history as copy
from haven_client.cli.context import Options, client_for, pass_options
from haven_client.errors import HavenError
from haven_crypto.backup import encode_recovery_key, generate_recovery_key

CONFIRM_TRIES = 3


@click.group()
def backup() -> None:
    """Keep your history readable on a new device with a recovery key."""


@backup.command()
@click.option("--replace", is_flag=True, help="Replace the current key (when you lost it).")
@pass_options
async def enable(options: Options, replace: bool) -> None:
    """Turn backup on: prints your recovery key once; write it down somewhere safe."""
    async with client_for(options) as client:
        status = await client.backup.status()
        if status.on and not replace:
            raise HavenError(copy.ALREADY_ON)
        rk = generate_recovery_key()
        text = encode_recovery_key(rk)
        options.output.say(copy.SHOW_KEY_INTRO)
        options.output.say(f"\n    [bold]{text}[/]\n")
        _confirm_written(text)
        _, info = await client.backup.enable(recovery_key=rk, replace=replace)
    options.output.emit(
        {"backup_id": info.backup_id, "replaced": status.on},
        copy.REPLACED if status.on else copy.ENABLED,
    )


def _confirm_written(text: str) -> None:
    """The last group typed back: proof enough that it was copied, not just scrolled past."""
    last = text.split(" ")[-1]
    for _ in range(CONFIRM_TRIES):
        typed = click.prompt(copy.CONFIRM_PROMPT, default="", show_default=False)
        if typed.strip() == last:
            return
        click.echo(copy.CONFIRM_MISMATCH, err=True)
    raise HavenError(copy.NOT_ENABLED)


@backup.command()
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the backup key on this device (to approve your next device); never the text.",
)
@pass_options
async def restore(options: Options, keep: bool) -> None:
    """Read your earlier messages here: the recovery key is read from standard input."""
    if options.stdin.isatty():
        recovery_key = getpass.getpass("Recovery key: ")
    else:
        recovery_key = options.stdin.read()
    async with client_for(options) as client:
        report = await client.backup.restore(recovery_key, keep=keep)
    options.output.emit(
        {
            "conversations": report.conversations,
            "opened": len(report.opened),
            "not_verified": len(report.failed),
            "kept_backup_key": report.kept_backup_key,
        },
        copy.RESTORED.format(opened=len(report.opened), conversations=report.conversations),
    )
    if report.failed:
        options.output.say(copy.RESTORED_UNVERIFIED.format(count=len(report.failed)))


@backup.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_options
async def disable(options: Options, yes: bool) -> None:
    """Turn backup off: new messages are no longer readable with the recovery key."""
    if not yes:
        click.confirm(copy.DISABLE_QUESTION, abort=True)
    async with client_for(options) as client:
        await client.backup.disable()
    options.output.emit({"backup": "off"}, copy.DISABLED)


@backup.command()
@pass_options
async def status(options: Options) -> None:
    """Whether backup is on, and whether this device holds the backup key."""
    async with client_for(options) as client:
        state = await client.backup.status()
    if not state.on:
        human = copy.STATUS_OFF
    else:
        human = copy.STATUS_ON_HERE if state.kept_here else copy.STATUS_ON
    options.output.emit(
        {"on": state.on, "backup_id": state.backup_id, "kept_here": state.kept_here}, human
    )


COMMANDS = [backup]
