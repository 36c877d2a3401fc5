"""Safety numbers: compare, mark verified, acknowledge a counterpart's key change."""

from __future__ import annotations

import click

from haven_client.cli import copy
from haven_client.cli.context import Options, client_for, pass_options
from haven_client.cli.names import counterpart_target
from haven_client.errors import HavenError


@click.command("safety-number")
@click.argument("target")
@click.argument("digits", nargs=-1)
@click.option("--verify", is_flag=True, help="Mark verified after comparing DIGITS (spaces ok).")
@pass_options
async def safety_number(
    options: Options, target: str, digits: tuple[str, ...], verify: bool
) -> None:
    """Show the safety number with a conversation's counterpart (a conversation id, their
    handle or an account id); with --verify, check the DIGITS you compared and remember them."""
    given = "".join("".join(digits).split())
    if digits and not verify:
        raise click.UsageError("give --verify before the digits you compared")
    async with client_for(options) as client:
        target = await counterpart_target(client, target)
        number = await client.safety_number(target)
        other = client.counterpart(target)
        name = other.display_name or other.handle
        if verify:
            try:
                client.mark_verified(target, given)
            except ValueError:
                raise HavenError(copy.SAFETY_MISMATCH.format(name=name)) from None
        verified = client.is_verified(target)
    groups = " ".join(number[i : i + 5] for i in range(0, len(number), 5))
    if verified:
        human = f"{groups}\n[green]{copy.SAFETY_VERIFIED.format(name=name)}[/]"
    else:
        human = (
            f"{groups}\n[yellow]not verified[/]: compare it with {name} in person or on a call;"
            " then `haven safety-number TARGET --verify DIGITS`."
        )
    options.output.emit({"safety_number": groups, "verified": verified}, human)


@click.command()
@click.argument("account_id")
@pass_options
async def acknowledge(options: Options, account_id: str) -> None:
    """Accept a counterpart's key change (after comparing the new safety number)."""
    async with client_for(options) as client:
        client.acknowledge_key_change(account_id)
    options.output.emit({"acknowledged": account_id}, "Key change acknowledged.")


COMMANDS = [safety_number, acknowledge]
