"""`haven-admin`: operator tasks. Bootstrap (`create-operator`) writes the gateway's database
directly, because no operator exists to ask the API yet; everything else goes through the
HTTP API as a signed-in operator, so it is authorized, validated and audited like any call."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import inspect
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import click

from haven_client.cli.context import Options
from haven_client.cli.failures import explain
from haven_client.cli.options import allow_insecure_http_option, json_option, keystore_option
from haven_client.cli.output import Output
from services.gateway.cli import receipt as receipt_cli
from services.gateway.cli.admin_commands import COMMANDS
from services.gateway.security.passwords import PasswordHasher
from services.gateway.settings import GatewaySettings
from services.gateway.stores import INDEXES
from services.gateway.stores.accounts import AccountRepository
from services.gateway.stores.audit import AuditLog
from services.gateway.usecases.operators import Operators
from shared.logging import configure_logging
from shared.mongo import Mongo
from shared.settings import load_settings, password_problem

DEFAULT_KEYSTORE = Path.home() / ".config" / "haven" / "admin-keystore.json"


def _password(stdin: TextIO) -> str:
    from_env = os.environ.get("HAVEN_ADMIN_PASSWORD")
    if from_env:
        return from_env
    if not stdin.isatty():
        return stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise click.ClickException("passwords differ")
    return first


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--server", envvar="HAVEN_SERVER", default="http://127.0.0.1:8080", show_default=True)
@keystore_option(
    envvar="HAVEN_ADMIN_KEYSTORE",
    default=DEFAULT_KEYSTORE,
    help="The operator's device keystore (created by `haven-admin login`).",
)
@allow_insecure_http_option
@json_option
@click.pass_context
def admin(
    ctx: click.Context, server: str, keystore: Path, allow_insecure_http: bool, as_json: bool
) -> None:
    """Haven operator tasks."""
    out, stdin, err = ctx.meta.get("haven.streams", (sys.stdout, sys.stdin, sys.stderr))
    output = Output(out, as_json=as_json, err=err)
    ctx.obj = Options(server, keystore, allow_insecure_http, output, stdin)


@admin.command("create-operator")
@click.option("--handle", required=True)
@click.pass_obj
async def create_operator(options: Options, handle: str) -> int:
    """Create an operator account in the database (the first one, before any sign-in).

    The password comes from HAVEN_ADMIN_PASSWORD, stdin's first line, or a prompt."""
    password = _password(options.stdin)
    problem = password_problem(password)
    if problem:
        raise click.UsageError(f"password: {problem}")  # the rule, never the value (exit 2)
    settings = load_settings(GatewaySettings)
    mongo = Mongo(str(settings.mongo_url), settings.database_name("gateway"))
    try:
        await mongo.ensure_indexes(INDEXES)
        hasher = PasswordHasher(
            opslimit=settings.pwhash_opslimit,
            memlimit_mib=settings.pwhash_memlimit_mib,
            workers=settings.pwhash_workers,
            queue=settings.pwhash_queue,
        )
        operators = Operators(
            accounts=AccountRepository(mongo.db), hasher=hasher, audit=AuditLog(mongo.db)
        )
        created = await operators.create(handle, password)
        hasher.close()
    finally:
        await mongo.close()
    options.output.emit(
        {"created": created, "handle": handle.lower()},
        "operator created" if created else "that handle is taken",
    )
    return 0 if created else 1


@admin.command("verify-receipt")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    metavar="KID=BASE64URL",
    help="A key from GET /v1/keys (default: the configured receipt keys, HAVEN_RECEIPT_KEY_FILE).",
)
def verify_receipt(file: Path, public_keys: tuple[str, ...]) -> int:
    """Check an account deletion receipt offline (exit 0 valid, 1 not, 2 not a receipt)."""
    settings = load_settings(GatewaySettings)
    return receipt_cli.run(settings, argparse.Namespace(file=file, public_key=list(public_keys)))


for _command in COMMANDS:
    admin.add_command(_command)


async def run_admin(
    argv: Sequence[str],
    out: TextIO | None = None,
    stdin: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run one command in the running event loop; its exit status."""
    errors = err or sys.stderr
    try:
        with admin.make_context("haven-admin", list(argv)) as ctx:
            ctx.meta["haven.streams"] = (out or sys.stdout, stdin or sys.stdin, errors)
            result: Any = admin.invoke(ctx)
            if inspect.isawaitable(result):
                result = await result
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as problem:
        errors.write(f"haven-admin: {problem.format_message()}\n")
        return problem.exit_code
    except Exception as error:  # known failures get one calm line
        message, code = explain(error)
        if message is None:
            raise
        errors.write(f"haven-admin: {message.replace('haven login', 'haven-admin login')}\n")
        return code
    return int(result or 0)


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging("haven-admin", "warning")
    try:
        return asyncio.run(run_admin(sys.argv[1:] if argv is None else list(argv)))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
