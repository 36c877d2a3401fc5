"""`haven link`: approve a new device from one you already use, or (`--wait`, on the new
device) show the codes to compare and wait for that approval.

Both devices show the same short code, derived from both identity keys; the approving
device sends your backup key only after you confirmed they match.
"""

from __future__ import annotations

import click

from haven_client.cli import copy_history as copy
from haven_client.cli.context import Options, client_for, pass_options
from haven_client.client import HavenClient
from haven_client.errors import HavenError
from haven_client.models import Device


@click.command()
@click.argument("device_id", required=False)
@click.option("--wait", is_flag=True, help="On the new device: show the codes, wait for approval.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait with --wait.")
@click.option("--yes", is_flag=True, help="Skip the question (only after comparing the codes).")
@pass_options
async def link(
    options: Options, device_id: str | None, wait: bool, timeout: float, yes: bool
) -> None:
    """Approve a new device of yours so it can read your history (or --wait on the new one)."""
    async with client_for(options) as client:
        if wait:
            await _wait(options, client, timeout)
        else:
            await _approve(options, client, device_id, yes)


async def _wait(options: Options, client: HavenClient, timeout: float) -> None:
    me = await client.me()
    codes = await client.link.codes(me)
    if not codes:
        raise HavenError(copy.LINK_NO_OTHER)
    own = client.store.state.device_id or ""
    options.output.say(copy.LINK_THIS_DEVICE.format(device_id=own))
    for entry in codes:
        options.output.emit(
            {"device_id": entry.device_id, "name": entry.name, "code": entry.code},
            copy.LINK_COMPARE_NEW.format(
                name=entry.name or "your other device", device_id=entry.device_id, code=entry.code
            ),
        )
    options.output.say(copy.LINK_WAITING)
    outcome = await client.link.wait(timeout=timeout)
    options.output.emit(
        {"linked": True, "from": outcome.sender_device_id, "history": outcome.with_history},
        copy.LINKED if outcome.with_history else outcome.notice,
    )


async def _approve(options: Options, client: HavenClient, device_id: str | None, yes: bool) -> None:
    me = await client.me()
    own = client.store.state.device_id
    others = sorted(
        (d for d in me.devices if d.device_id != own),
        key=lambda d: d.created_at.timestamp() if d.created_at else 0.0,
        reverse=True,
    )
    if not others:
        raise HavenError(copy.NO_OTHER_DEVICE)
    target = _pick(options, others, device_id)
    name = target.name or target.device_id if target else device_id or ""
    code = await client.link.code_for(target.device_id if target else device_id or "")
    options.output.emit(
        {"device_id": target.device_id if target else device_id, "code": code},
        copy.LINK_COMPARE.format(name=name, code=code),
    )
    if not yes and not click.confirm(copy.LINK_QUESTION, default=False):
        raise HavenError(copy.LINK_MISMATCH)
    outcome = await client.link.approve(target.device_id if target else device_id or "")
    if outcome.with_history:
        line = copy.APPROVED.format(name=name)
    else:
        line = copy.APPROVED_LINKED.format(name=name) + " " + (outcome.notice or "")
    options.output.emit(
        {"approved": outcome.sender_device_id, "history": outcome.with_history}, line
    )


def _pick(options: Options, others: list[Device], device_id: str | None) -> Device | None:
    """The named device (None if it is not one of yours: the code lookup then refuses), or
    the person's choice, newest first."""
    if device_id is not None:
        return next((d for d in others if d.device_id == device_id), None)
    for number, device in enumerate(others, start=1):
        added = f"{device.created_at:%Y-%m-%d %H:%M}" if device.created_at else "—"
        options.output.say(
            f"  {number}. {device.name or 'Haven device'} ({device.device_id}), added {added}"
        )
    choice = click.prompt(copy.PICK_DEVICE, type=click.IntRange(1, len(others)), default=1)
    return others[choice - 1]


COMMANDS = [link]
