"""Root options that ``haven`` and ``haven-admin`` share, so both explain them alike.

``haven-admin`` (services/gateway/cli/admin.py) builds on this CLI package already (its
``Options``, ``Output`` and failure lines); the SDK itself never imports the server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

Command = TypeVar("Command", bound=Callable[..., Any])


def keystore_option(*, envvar: str, default: Path, help: str) -> Callable[[Command], Command]:
    """``--keystore``: the device keystore file (one per device and person)."""
    return click.option(
        "--keystore",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar=envvar,
        default=default,
        show_default=True,
        help=help,
    )


def allow_insecure_http_option(command: Command) -> Command:
    """``--allow-insecure-http``: plain http beyond loopback, for trusted networks only."""
    return click.option(
        "--allow-insecure-http",
        is_flag=True,
        envvar="HAVEN_ALLOW_INSECURE_HTTP",
        help="Allow plain http to a server that is not this machine (trusted networks only).",
    )(command)


def json_option(command: Command) -> Command:
    """``--json`` (the parameter ``as_json``): one JSON object per line, for scripts."""
    return click.option(
        "--json", "as_json", is_flag=True, help="One JSON object per line, for scripts."
    )(command)
