"""File commands: `haven send CONVERSATION --file PATH` (its sending half) and
`haven save-attachment CONVERSATION MESSAGE_ID PATH` — end-to-end encrypted files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from haven_client.attachments import save_attachments, send_files
from haven_client.audio import probe
from haven_client.cli.context import Options, client_for, pass_options
from haven_client.cli.names import conversation_id_for


async def send_with_files(
    options: Options, conversation_id: str, files: Sequence[str], seconds: float | None = None
) -> None:
    """Encrypt and upload each file, then send one message that lists them. An audio file goes
    as a voice note with its length: from its headers, else ``seconds`` (``--duration``)."""
    paths = [Path(name) for name in files]
    for path in paths:
        if not path.is_file():
            raise click.BadParameter(f"{path} is not a readable file", param_hint="--file")
    duration_ms = None if seconds is None else max(1, round(seconds * 1000))
    if duration_ms is not None and (len(paths) != 1 or probe(paths[0]) is None):
        raise click.BadParameter("give it with one audio --file", param_hint="--duration")
    async with client_for(options) as client:
        conversation_id = await conversation_id_for(client, conversation_id)
        message_id = await send_files(client, conversation_id, paths, duration_ms=duration_ms)
    names = ", ".join(path.name for path in paths)
    options.output.emit(
        {"message_id": message_id, "files": [path.name for path in paths]},
        f"Sent {names} (end-to-end encrypted).",
    )


@click.command("save-attachment")
@click.argument("conversation_id", metavar="CONVERSATION")
@click.argument("message_id")
@click.argument("path", type=click.Path(path_type=Path))
@pass_options
async def save_attachment(
    options: Options, conversation_id: str, message_id: str, path: Path
) -> None:
    """Save a message's file (checked and decrypted) to PATH, readable only by you."""
    async with client_for(options) as client:
        conversation_id = await conversation_id_for(client, conversation_id)
        saved = await save_attachments(client, conversation_id, message_id, path)
    for target in saved:
        options.output.emit({"saved": str(target)}, f"Saved {target}.")


COMMANDS = [save_attachment]
