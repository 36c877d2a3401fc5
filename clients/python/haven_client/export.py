"""Your data, on the device: download an export, read it offline, verify a deletion receipt.

`download_export(client, path, progress=...)` streams `GET /v1/me/export` to a file (never
whole in memory) and refuses a document that was cut short. `decrypt_export(document,
keystore)` opens every message offline by the live opener's rules (`haven_client.offline`):
the export's device records can only narrow what this device's pins vouch for.
`write_readable` writes the result 0600 from creation and names the files in the keystore,
whose panic wipe shreds them. `render_html(readable)` is one self-contained page; everything
in it is escaped (message text is whatever the sender wrote); the messages' files, decrypted
beside it by `haven_client.export_files`, are linked from it.
`delete_account` and `verify_receipt` cover deletion (the receipt checks offline).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from haven_client.errors import HavenError
from haven_client.events import InvalidMessage, MessageDeleted, ReceivedMessage
from haven_client.keystore import Keystore
from haven_client.offline import open_offline
from haven_client.opener import Opened
from haven_crypto.receipts import verify_receipt

# Called with (bytes written so far, total bytes if the server said, else None).
Progress = Callable[[int, int | None], None]
CHUNK = 64 * 1024
END = b'"complete":true}'

__all__ = [
    "ExportIncomplete",
    "decrypt_export",
    "delete_account",
    "download_export",
    "public_keys",
    "render_html",
    "verify_receipt",
    "write_readable",
]


class ExportIncomplete(HavenError):
    """The export stream ended before its last member: nothing usable was written."""


async def download_export(
    client: Any, path: str | os.PathLike[str], progress: Progress | None = None
) -> int:
    """Stream the caller's export into `path` (atomically); returns its size in bytes."""
    transport = client.transport
    target = Path(path)
    partial = target.with_name(target.name + ".part")
    headers = {"Authorization": f"Bearer {await transport.access_token()}"}
    written = 0
    tail = b""
    async with transport.http.get(
        transport.base_url + "/v1/me/export", headers=headers
    ) as response:
        if response.status >= 400:
            raise HavenError(f"export refused with status {response.status}")
        total = response.content_length
        with partial.open("wb") as out:
            async for chunk in response.content.iter_chunked(CHUNK):
                out.write(chunk)
                written += len(chunk)
                tail = (tail + chunk)[-len(END) :]
                if progress is not None:
                    progress(written, total)
    if tail != END:
        partial.unlink(missing_ok=True)
        raise ExportIncomplete("the export was cut short; try again")
    partial.replace(target)
    return written


async def delete_account(client: Any, password: str) -> dict[str, Any]:
    """`POST /v1/me/delete`: `{"receipt", "receipt_signature"}`; keep it to prove the request."""
    answer: dict[str, Any] = await client.transport.request(
        "POST", "/v1/me/delete", json={"password": password}
    )
    return answer


async def public_keys(client: Any) -> dict[str, str]:
    """The gateway's signing keys (`GET /v1/keys`): key id -> base64url public key."""
    answer = await client.transport.request("GET", "/v1/keys", auth=False)
    return {key["kid"]: key["public_key"] for key in answer["keys"]}


def decrypt_export(document: Mapping[str, Any], keystore: Keystore) -> dict[str, Any]:
    """The export with every message opened offline by the live opener's rules
    (`haven_client.offline`): a `readable` record per message, with `status` "ok" (and
    `payload`, `trust`), "deleted", or "unreadable" (and why). `urgent` is the signed flag."""
    conversations = {c["conversation_id"]: c for c in document.get("conversations", [])}
    opened = open_offline(keystore, document)
    messages = [_record(m, conversations, opened) for m in document.get("messages", [])]
    return {
        "format": "haven-export-readable",
        "exported_at": document.get("exported_at"),
        "account": document.get("account"),
        "devices": document.get("devices", []),
        "conversations": [_conversation(c) for c in conversations.values()],
        "notifications": document.get("notifications"),
        "audit": document.get("audit", []),
        "messages": messages,
        "complete": document.get("complete") is True,
    }


def _conversation(conversation: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("conversation_id", "status", "created_at", "ended_at", "participants")
    return {k: conversation.get(k) for k in keep}


def _record(
    item: Mapping[str, Any],
    conversations: Mapping[str, Mapping[str, Any]],
    opened: Mapping[str, tuple[Opened | None, str | None]],
) -> dict[str, Any]:
    cid = str(item.get("conversation_id"))
    participants = conversations.get(cid, {}).get("participants", [])
    handles = {p.get("account_id"): p.get("handle") for p in participants}
    record: dict[str, Any] = {
        "conversation_id": cid,
        "seq": item.get("seq"),
        "message_id": item.get("message_id"),
        "sender_account_id": item.get("sender_account_id"),
        "sender_handle": handles.get(item.get("sender_account_id")),
        "server_ts": item.get("server_ts"),
        "urgent": False,
    }
    event, why = opened.get(str(item.get("message_id")), (None, "not in any exported conversation"))
    if isinstance(event, ReceivedMessage):
        return record | {
            "urgent": event.urgent,
            "status": "ok",
            "payload": event.payload,
            "trust": event.trust,
        }
    if isinstance(event, MessageDeleted):
        return record | {"status": "deleted"}
    if isinstance(event, InvalidMessage):
        return record | {"status": "unreadable", "reason": event.reason}
    return record | {"status": "unreadable", "reason": why}


def write_readable(
    readable: Mapping[str, Any],
    json_path: str | os.PathLike[str],
    html_path: str | os.PathLike[str],
    keystore: Keystore,
) -> None:
    """The decrypted export as JSON and as one HTML page a person can open and read: 0600
    from creation, and named in the keystore so its panic wipe shreds them too."""
    text = json.dumps(readable, ensure_ascii=False, indent=2)
    keystore.write_decrypted(json_path, text.encode("utf-8"))
    keystore.write_decrypted(html_path, render_html(readable).encode("utf-8"))


def render_html(readable: Mapping[str, Any]) -> str:
    """One self-contained page (no scripts, no external resources); every value escaped."""
    account = readable.get("account") or {}
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        f"<title>Haven export of {_e(account.get('handle'))}</title>",
        "<style>body{font-family:sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}"
        ".m{border-left:3px solid #8aa;padding:.3rem .8rem;margin:.6rem 0}"
        ".meta{color:#555;font-size:.85rem}.gone{color:#777;font-style:italic}</style>",
        "</head><body>",
        f"<h1>Haven export of {_e(account.get('handle'))}</h1>",
        f'<p class="meta">Exported {_e(readable.get("exported_at"))}'
        + ("" if readable.get("complete") else " — <strong>incomplete</strong>")
        + "</p>",
    ]
    by_conversation: dict[str, list[Mapping[str, Any]]] = {}
    for message in readable.get("messages", []):
        by_conversation.setdefault(str(message.get("conversation_id")), []).append(message)
    for conversation in readable.get("conversations", []):
        cid = str(conversation.get("conversation_id"))
        people = ", ".join(
            _e(p.get("handle")) for p in conversation.get("participants", []) if not p.get("you")
        )
        parts.append(f"<h2>Conversation with {people}</h2>")
        status, since = _e(conversation.get("status")), _e(conversation.get("created_at"))
        parts.append(f'<p class="meta">{status}, since {since}</p>')
        parts += [_message_html(m) for m in by_conversation.get(cid, [])]
    parts.append("</body></html>")
    return "\n".join(parts)


def _message_html(message: Mapping[str, Any]) -> str:
    meta = f'<div class="meta">{_e(message.get("sender_handle"))} · {_e(message.get("server_ts"))}'
    meta += " · urgent" if message.get("urgent") else ""
    meta += "</div>"
    status = message.get("status")
    if status == "ok":
        payload = message.get("payload") or {}
        body = payload.get("body") if isinstance(payload, dict) else None
        text = _e(body if isinstance(body, str) else json.dumps(payload, ensure_ascii=False))
        files = _files_html(message.get("files") or [])
        return f'<div class="m">{meta}<div>{text}</div>{files}</div>'
    if status == "deleted":
        return f'<div class="m">{meta}<div class="gone">deleted</div></div>'
    reason = _e(message.get("reason"))
    return f'<div class="m">{meta}<div class="gone">could not be opened: {reason}</div></div>'


def _files_html(files: list[Mapping[str, Any]]) -> str:
    """The message's files (haven_client.export_files): a link to each decrypted copy."""
    if not files:
        return ""
    items = []
    for entry in files:
        facts = [_e(entry.get("mime")), f"{_e(entry.get('size'))} bytes"]
        if isinstance(entry.get("duration_ms"), int):
            facts.append(f"voice note, {_e(clock(entry['duration_ms']))}")
        about = f' <span class="meta">({", ".join(facts)})</span>'
        name = _e(entry.get("name"))
        if entry.get("status") == "ok":
            link = _e(quote(str(entry.get("path"))))
            items.append(f'<li><a href="{link}">{name}</a>{about}</li>')
        elif entry.get("status") == "missing":
            items.append(f'<li>{name}{about} <span class="gone">not in this export</span></li>')
        else:
            why = _e(entry.get("reason"))
            items.append(
                f'<li>{name}{about} <span class="gone">could not be opened: {why}</span></li>'
            )
    return "<ul>" + "".join(items) + "</ul>"


def clock(duration_ms: int) -> str:
    """A voice note's length as a person reads it: 0:41, 12:03, 1:02:03."""
    seconds = max(0, round(duration_ms / 1000))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)
