"""What every command shares: the global options, secrets from env or prompt, an open client."""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import click

from haven_client.cli import copy
from haven_client.cli.output import Output
from haven_client.client import HavenClient
from haven_client.errors import HavenError
from haven_client.keystore import Keystore

DEFAULT_KEYSTORE = Path.home() / ".config" / "haven" / "keystore.json"


@dataclass
class Options:
    server: str | None
    keystore: Path
    allow_insecure_http: bool
    output: Output
    stdin: TextIO


pass_options = click.make_pass_decorator(Options)


def secret(variable: str, prompt: str) -> str:
    """A secret from the environment (scripts) or a hidden prompt, never from argv."""
    return os.environ.get(variable) or getpass.getpass(prompt)


def new_password(variable: str) -> str:
    """A new password from the environment, or typed twice."""
    given = os.environ.get(variable)
    if given:
        return given
    click.echo(copy.PASSWORD_RULE, err=True)
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("New password again: "):
        raise click.ClickException("the two passwords differ")
    return first


def new_passphrase() -> str:
    """A new keystore's passphrase: from the environment, or typed twice after one sentence on
    how it differs from the account password."""
    given = os.environ.get("HAVEN_KEYSTORE_PASSPHRASE")
    if given:
        return given
    click.echo(copy.PASSPHRASE_RULE, err=True)
    first = getpass.getpass("New keystore passphrase: ")
    if first != getpass.getpass("Keystore passphrase again: "):
        raise HavenError(copy.PASSPHRASES_DIFFER)
    return first


async def open_keystore(options: Options, *, create: bool = False) -> Keystore:
    if create and not options.keystore.exists():
        passphrase = new_passphrase()
    else:
        passphrase = secret("HAVEN_KEYSTORE_PASSPHRASE", "Keystore passphrase: ")
    if create:
        return await Keystore.open_or_create(options.keystore, passphrase)
    if not options.keystore.exists():
        raise HavenError(copy.NO_KEYSTORE.format(path=options.keystore))
    return await Keystore.open(options.keystore, passphrase)


@contextlib.asynccontextmanager
async def client_for(
    options: Options, *, create: bool = False, resume: bool = True
) -> AsyncIterator[HavenClient]:
    """An SDK client over this device's keystore, its session resumed unless told otherwise."""
    store = await open_keystore(options, create=create)
    try:
        client = HavenClient(options.server, store, allow_insecure_http=options.allow_insecure_http)
    except BaseException:
        store.close()
        raise
    async with client:
        if resume:
            await client.resume()
        yield client
