"""Where a message's text comes from: stdin, or the user's $EDITOR — never the command line."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import TextIO

import click

from haven_client.cli import copy

TEMPLATE = "\n# Write your message above. Lines starting with # are dropped; empty cancels.\n"


def message_text(stdin: TextIO) -> str:
    """Piped stdin as is; on a terminal, $EDITOR (or VISUAL), else typed until Ctrl-D."""
    if not stdin.isatty():
        text = stdin.read()
    elif editor := os.environ.get("VISUAL") or os.environ.get("EDITOR"):
        text = _edit(editor)
    else:
        click.echo("Type your message; end it with Ctrl-D on an empty line.", err=True)
        text = stdin.read()
    text = text.strip("\n")
    if not text.strip():
        raise click.ClickException(copy.EMPTY_MESSAGE)
    return text


def _edit(editor: str) -> str:
    with tempfile.TemporaryDirectory(prefix="haven-") as directory:
        draft = Path(directory) / "message.txt"  # private: mkdtemp is 0700
        draft.write_text(TEMPLATE, encoding="utf-8")
        result = subprocess.run([*shlex.split(editor), str(draft)], check=False)  # noqa: S603
        if result.returncode != 0:
            raise click.ClickException(copy.EDITOR_CANCELLED)
        lines = draft.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.startswith("#"))
