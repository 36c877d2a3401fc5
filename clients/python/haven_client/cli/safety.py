"""Safety commands: pause and resume (coaches), per-conversation settings, the messaging
agreement, and the panic exit."""

from __future__ import annotations

from datetime import datetime

import click

from haven_client import copy as sdk_copy
from haven_client.cli import logfile
from haven_client.cli.context import Options, client_for, pass_options
from haven_client.cli.names import conversation_id_for
from haven_client.errors import HavenError
from haven_client.safety import pause_template

TEMPLATES_HELP = "A neutral reason the client sees, as written: " + "; ".join(
    f'{name}: "{text}"' for name, text in sorted(sdk_copy.PAUSE_TEMPLATES.items())
)


@click.command()
@click.argument("conversation_id", metavar="CONVERSATION")
@click.option(
    "--template", type=click.Choice(sorted(sdk_copy.PAUSE_TEMPLATES)), help=TEMPLATES_HELP
)
@click.option("--reason", help="Your own words instead (up to 280 characters, shown as written).")
@click.option("--until", "resume_on", type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD")
@pass_options
async def pause(
    options: Options,
    conversation_id: str,
    template: str | None,
    reason: str | None,
    resume_on: datetime | None,
) -> None:
    """Coaches: pause a conversation; both sides can read, nobody can send until you resume."""
    if template and reason:
        raise click.UsageError("give --template or --reason, not both")
    text = pause_template(template) if template else reason
    day = resume_on.date() if resume_on is not None else None
    async with client_for(options) as client:
        conversation_id = await conversation_id_for(client, conversation_id)
        await client.safety.pause(conversation_id, text, day)
    options.output.emit(
        {"conversation_id": conversation_id, "status": "paused", "reason": text},
        f"Paused. The client sees: {text or '(no reason given)'}",
    )


@click.command()
@click.argument("conversation_id", metavar="CONVERSATION")
@pass_options
async def resume(options: Options, conversation_id: str) -> None:
    """Coaches: resume a paused conversation."""
    async with client_for(options) as client:
        conversation_id = await conversation_id_for(client, conversation_id)
        await client.safety.resume(conversation_id)
    options.output.emit({"conversation_id": conversation_id, "status": "active"}, "Resumed.")


@click.command()
@click.argument("conversation_id", metavar="CONVERSATION")
@click.option("--read-receipts", type=click.Choice(["on", "off"]), help="Share read receipts.")
@click.option(
    "--notification-detail",
    type=click.Choice(["none", "generic", "sender"]),
    help="How much your pushes for this conversation say.",
)
@click.option("--retention-days", help="Your wish for how long messages are kept, or 'keep'.")
@pass_options
async def settings(
    options: Options,
    conversation_id: str,
    read_receipts: str | None,
    notification_detail: str | None,
    retention_days: str | None,
) -> None:
    """Your own settings in one conversation (shown; changed with the options)."""
    changes: dict[str, object] = {}
    if read_receipts is not None:
        changes["share_read_receipts"] = read_receipts == "on"
    if notification_detail is not None:
        changes["notification_detail"] = notification_detail
    if retention_days is not None:
        changes["retention_days"] = _days(retention_days)
    async with client_for(options) as client:
        conversation_id = await conversation_id_for(client, conversation_id)
        current = await client.safety.update_settings(conversation_id, **changes)  # type: ignore[arg-type]
    shown = current.model_dump(mode="json")
    kept = shown.get("effective_retention_days")
    options.output.emit(
        shown,
        f"read receipts {'shared' if current.share_read_receipts else 'not shared'}, "
        f"push detail {current.notification_detail}, messages kept "
        f"{f'{kept} days' if kept else 'until deleted'} (the shorter wish of the two of you)",
    )


def _days(value: str) -> int | None:
    if value == "keep":
        return None
    if not value.isdigit() or int(value) < 1:
        raise click.BadParameter("a number of days, or 'keep'", param_hint="--retention-days")
    return int(value)


@click.group()
def agreement() -> None:
    """The messaging agreement your operator published (clients accept it to send)."""


@agreement.command("show")
@pass_options
async def agreement_show(options: Options) -> None:
    """The current agreement and whether you accepted it."""
    async with client_for(options) as client:
        current = await client.safety.agreement()
    state = "accepted" if current.accepted else "not accepted yet"
    options.output.emit(
        current.model_dump(mode="json"), f"Agreement {current.version} ({state}):\n{current.text}"
    )


@agreement.command("accept")
@click.option("--yes", is_flag=True, help="Accept without showing it first.")
@pass_options
async def agreement_accept(options: Options, yes: bool) -> None:
    """Read and accept the current agreement."""
    async with client_for(options) as client:
        current = await client.safety.agreement()
        if not yes:
            options.output.say(current.text)
            click.confirm(f"Accept agreement {current.version}?", abort=True)
        accepted = await client.safety.accept_agreement(current.version)
    options.output.emit(accepted.model_dump(mode="json"), f"Accepted {accepted.version}.")


@agreement.command("withdraw")
@pass_options
async def agreement_withdraw(options: Options) -> None:
    """Withdraw your acceptance (you can still read; sending waits for a new acceptance)."""
    async with client_for(options) as client:
        await client.safety.withdraw_agreement()
    options.output.emit({"accepted": False}, "Withdrawn.")


@click.command()
@click.option("--yes", is_flag=True, help="Do not ask first.")
@pass_options
async def panic(options: Options, yes: bool) -> None:
    """Sign this device out at once and erase its keystore: nothing of Haven stays here."""
    if not yes:
        click.confirm("Sign out and erase this device's Haven data now?", abort=True)
    async with client_for(options) as client:
        try:
            line = await client.panic()
        except HavenError:
            line = sdk_copy.PANIC_DONE  # the keystore is wiped even when the server is away
    logfile.erase()
    options.output.emit({"panic": True}, line)


COMMANDS = [pause, resume, settings, agreement, panic]
