"""`haven-admin`: operator tasks that run against the gateway's database directly."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from services.gateway.data import receipt_cli
from services.gateway.identity.operators import Operators
from services.gateway.passwords import PasswordHasher
from services.gateway.repository import INDEXES
from services.gateway.repository.accounts import AccountRepository
from services.gateway.repository.audit import AuditLog
from services.gateway.settings import GatewaySettings
from shared.logging import configure_logging
from shared.mongo import Mongo
from shared.settings import load_settings, password_problem


def _password() -> str:
    from_env = os.environ.get("HAVEN_ADMIN_PASSWORD")
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise SystemExit("passwords differ")
    return first


async def _create_operator(settings: GatewaySettings, handle: str, password: str) -> int:
    problem = password_problem(password)
    if problem:
        sys.stderr.write(f"password: {problem}\n")  # the rule, never the value
        return 2
    mongo = Mongo(str(settings.mongo_url), settings.database_name("gateway"))
    try:
        await mongo.ensure_indexes(INDEXES)
        hasher = PasswordHasher(
            settings.pwhash_opslimit,
            settings.pwhash_memlimit_mib,
            settings.pwhash_workers,
            settings.pwhash_queue,
        )
        operators = Operators(AccountRepository(mongo.db), hasher, AuditLog(mongo.db))
        created = await operators.create(handle, password)
        hasher.close()
    finally:
        await mongo.close()
    sys.stdout.write("operator created\n" if created else "that handle is taken\n")
    return 0 if created else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="haven-admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-operator", help="create an operator account")
    create.add_argument("--handle", required=True)
    receipt_cli.add_parser(commands)
    args = parser.parse_args(argv)
    settings = load_settings(GatewaySettings)
    configure_logging("haven-admin", "warning")
    if args.command == "create-operator":
        return asyncio.run(_create_operator(settings, args.handle, _password()))
    if args.command == "verify-receipt":
        return receipt_cli.run(settings, args)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
