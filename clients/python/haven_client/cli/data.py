"""Your data: export everything (with a progress bar, optionally opened into a readable page
with the conversations' files decrypted beside it) and delete your account (keeping the signed
receipt)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import click

from haven_client.cli.context import Options, client_for, pass_options, secret
from haven_client.client import HavenClient
from haven_client.errors import HavenError
from haven_client.export import decrypt_export, delete_account, download_export, write_readable
from haven_client.export_files import files_folder, open_export_files
from haven_client.keystore import Keystore


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--readable",
    is_flag=True,
    help="Also open it here: FILE.readable.json and .html, and the files in FILE.files/.",
)
@pass_options
async def export(options: Options, file: Path, readable: bool) -> None:
    """Download everything the server holds about you (messages stay ciphertext in FILE)."""
    # Here, not at the top: only `export` draws it, and every `haven` command would pay for
    # importing rich's progress bars (its spinner table included).
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=options.output.errors, disable=options.output.as_json) as bar:
        task = bar.add_task("export", total=None)

        def progress(written: int, total: int | None) -> None:
            bar.update(task, completed=written, total=total)

        async with client_for(options) as client:
            size = await download_export(client, file, progress)
            store = client.store
            if readable:
                await _refresh_pins(client)
            record: dict[str, object] = {"file": str(file), "bytes": size}
            if readable:
                base = file.with_suffix("")
                json_path, html_path = (
                    base.with_name(f"{base.name}.readable.json"),
                    base.with_name(f"{base.name}.readable.html"),
                )
                folder = files_folder(html_path)
                # Decrypted, for your eyes only: 0600 from creation, shredded by `haven panic`.
                opened = await asyncio.to_thread(_open, file, store, folder)
                write_readable(opened, json_path, html_path, store)
                record |= {"readable_json": str(json_path), "readable_html": str(html_path)}
                if folder.exists():
                    record["readable_files"] = str(folder)
    said = f"Export saved: {file} ({size} bytes)."
    if "readable_html" in record:
        said += f" Readable on this device: {record['readable_html']}"
        said += f", its files in {record['readable_files']}." if "readable_files" in record else "."
    options.output.emit(record, said)


@click.command("delete-account")
@click.option(
    "--receipt",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("haven-deletion-receipt.json"),
    show_default=True,
    help="Where to keep the signed receipt.",
)
@click.option("--yes", is_flag=True, help="Do not ask first.")
@pass_options
async def delete_account_command(options: Options, receipt: Path, yes: bool) -> None:
    """Delete your account: devices signed out now, your messages deleted everywhere."""
    if not yes:
        click.confirm(
            "Delete your account? Export first if you want a copy (`haven export FILE`)",
            abort=True,
        )
    password = secret("HAVEN_PASSWORD", "Password: ")
    async with client_for(options) as client:
        answer = await delete_account(client, password)
        client.transport.forget()  # its tokens are revoked: keep no dead session here
    await asyncio.to_thread(_keep, receipt, answer)
    options.output.emit(
        {"receipt": str(receipt), "account_id": answer["receipt"].get("account_id")},
        f"Your account is being deleted. The signed receipt is in {receipt}; anyone can check "
        "it later with `haven-admin verify-receipt`.",
    )


async def _refresh_pins(client: HavenClient) -> None:
    """Fresh listings first, as the live opener would take: offline, only devices this
    keystore saw listed are trusted (haven_client.offline)."""
    for conversation in await client.conversations():
        stored = client.store.state.conversations.get(conversation.conversation_id)
        if stored is None:
            continue
        with contextlib.suppress(HavenError):
            await client.trust.recheck(stored)


def _open(file: Path, store: Keystore, folder: Path) -> dict[str, Any]:
    """Every message opened offline with this device's keys, and their files decrypted into
    ``folder`` (CPU work, off the loop)."""
    document = json.loads(file.read_text(encoding="utf-8"))
    return open_export_files(document, decrypt_export(document, store), folder, store)


def _keep(receipt: Path, answer: dict[str, Any]) -> None:
    receipt.write_text(json.dumps(answer, indent=2), encoding="utf-8")


COMMANDS = [export, delete_account_command]
