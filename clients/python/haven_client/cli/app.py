"""The ``haven`` root command: global options, running async commands, friendly failures.

Secrets never go on the command line (shell history, ``ps``): the account password comes
from ``HAVEN_PASSWORD`` or a prompt, the keystore passphrase from
``HAVEN_KEYSTORE_PASSPHRASE`` or a prompt, message text from stdin or ``$EDITOR``.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import click

from haven_client.cli import copy, logfile
from haven_client.cli.context import DEFAULT_KEYSTORE, Options
from haven_client.cli.failures import explain
from haven_client.cli.options import allow_insecure_http_option, json_option, keystore_option
from haven_client.cli.output import Output


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--server", envvar="HAVEN_SERVER", help="Gateway base URL (https://…).")
@keystore_option(
    envvar="HAVEN_KEYSTORE",
    default=DEFAULT_KEYSTORE,
    help="This device's encrypted keystore.",
)
@allow_insecure_http_option
@json_option
@click.pass_context
def app(
    ctx: click.Context, server: str | None, keystore: Path, allow_insecure_http: bool, as_json: bool
) -> None:
    """Haven companion: end-to-end encrypted messages between coaches and clients."""
    streams = ctx.meta.get("haven.streams", (sys.stdout, sys.stdin, None))
    out, stdin, err = streams
    logfile.log_to(keystore)
    ctx.obj = Options(
        server=server,
        keystore=keystore,
        allow_insecure_http=allow_insecure_http,
        output=Output(out, as_json=as_json, err=err),
        stdin=stdin,
    )


def _register_commands() -> None:
    from haven_client.cli import (
        account,
        backup,
        boundaries,
        chat,
        conversation,
        data,
        files,
        link,
        reset,
        safety,
        trust,
    )

    modules = [account, conversation, chat, trust, safety, data, boundaries, files]
    modules += [backup, link, reset]  # history on a new device (docs/history.md)
    for module in modules:
        for command in module.COMMANDS:
            app.add_command(command)


_register_commands()


async def run_cli(
    argv: Sequence[str],
    out: TextIO | None = None,
    stdin: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run one command in the running event loop; the exit status (friendly errors on ``err``)."""
    errors = err or sys.stderr
    meta = {"haven.streams": (out or sys.stdout, stdin or sys.stdin, errors)}
    try:
        with app.make_context("haven", list(argv)) as ctx:
            ctx.meta.update(meta)
            result: Any = app.invoke(ctx)
            if inspect.isawaitable(result):
                result = await result
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as problem:
        problem.show()
        return problem.exit_code
    except click.Abort:
        errors.write("aborted\n")
        return 1
    except Exception as error:  # every failure gets one calm line; the unknown, a log entry
        message, code = explain(error)
        if message is None:
            message = copy.UNEXPECTED.format(log=logfile.record_unexpected(error))
        errors.write(f"haven: {message}\n")
        return code
    return int(result or 0)


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        return asyncio.run(run_cli(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
