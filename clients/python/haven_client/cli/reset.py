"""`haven reset-password`: set a new password with the one-time code an operator gave you.

The code and the new password never go on the command line: the code comes from
`HAVEN_RESET_CODE` or a hidden prompt, the password from `HAVEN_NEW_PASSWORD` or is typed twice.
Every session of the account ends; devices, keys and history stay.
"""

from __future__ import annotations

import click

from haven_client.cli import copy_history as copy
from haven_client.cli.context import Options, client_for, new_password, pass_options, secret


@click.command("reset-password")
@click.option("--handle", required=True, help="Your handle.")
@pass_options
async def reset_password(options: Options, handle: str) -> None:
    """Set a new password with an operator's one-time reset code."""
    code = secret("HAVEN_RESET_CODE", "Reset code: ").strip()
    password = new_password("HAVEN_NEW_PASSWORD")
    async with client_for(options, create=True, resume=False) as client:
        await client.history_api.reset_password(handle.lower(), code, password)
    options.output.emit({"reset": True, "handle": handle.lower()}, copy.PASSWORD_SET)


COMMANDS = [reset_password]
