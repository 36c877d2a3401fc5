"""Safety numbers: compare, mark verified, acknowledge a counterpart's key change."""

from __future__ import annotations

import click

from haven_client.cli.context import Options, client_for, pass_options


@click.command("safety-number")
@click.argument("target")
@click.option("--verify", metavar="DIGITS", help="Mark verified after comparing these digits.")
@pass_options
async def safety_number(options: Options, target: str, verify: str | None) -> None:
    """Show the safety number with a conversation's counterpart (or an account id)."""
    async with client_for(options) as client:
        number = await client.safety_number(target)
        if verify:
            client.mark_verified(target, verify)
        verified = client.is_verified(target)
    groups = " ".join(number[i : i + 5] for i in range(0, len(number), 5))
    state = "[green]verified[/]" if verified else "[yellow]not verified[/]"
    options.output.emit(
        {"safety_number": groups, "verified": verified},
        f"{groups}\n{state}: compare it with the other person in person or on a call; "
        "then `haven safety-number TARGET --verify DIGITS`.",
    )


@click.command()
@click.argument("account_id")
@pass_options
async def acknowledge(options: Options, account_id: str) -> None:
    """Accept a counterpart's key change (after comparing the new safety number)."""
    async with client_for(options) as client:
        client.acknowledge_key_change(account_id)
    options.output.emit({"acknowledged": account_id}, "Key change acknowledged.")


COMMANDS = [safety_number, acknowledge]
