"""Your data, on the device: download an export, read it offline, verify a deletion receipt.

`download_export(client, path, progress=...)` streams `GET /v1/me/export` to a file (never
whole in memory) and refuses a document that was cut short. `decrypt_export(document,
keystore)` opens every message offline with this device's keys: each sender's device keys come
from the export, and are trusted only if their `kx_signature` verifies for that sender's
handle and match what this device pinned, if it pinned one. `render_html(readable)` is one
self-contained page; everything in it is escaped (message text is whatever the sender wrote).
`delete_account` and `verify_receipt` cover deletion (the receipt checks offline).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from haven_client.errors import HavenError
from haven_client.keystore import Keystore
from haven_crypto.crypto import EnvelopeError, b64d, verify_kx_signature
from haven_crypto.envelope import Envelope, open_envelope
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
    """The export with every message opened offline: a `readable` record per message, with
    `status` "ok" (and `payload`), "deleted", or "unreadable" (and why)."""
    own = keystore.state.device_id
    conversations = {c["conversation_id"]: c for c in document.get("conversations", [])}
    messages = [_open(m, conversations, keystore, own) for m in document.get("messages", [])]
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


def _open(
    item: Mapping[str, Any],
    conversations: Mapping[str, Mapping[str, Any]],
    keystore: Keystore,
    own_device_id: str | None,
) -> dict[str, Any]:
    cid = str(item.get("conversation_id"))
    conversation = conversations.get(cid, {})
    handles = {p["account_id"]: p.get("handle") for p in conversation.get("participants", [])}
    record: dict[str, Any] = {
        "conversation_id": cid,
        "seq": item.get("seq"),
        "message_id": item.get("message_id"),
        "sender_account_id": item.get("sender_account_id"),
        "sender_handle": handles.get(item.get("sender_account_id")),
        "server_ts": item.get("server_ts"),
        "urgent": bool(item.get("urgent")),
    }
    if item.get("deleted") or item.get("envelope") is None:
        return record | {"status": "deleted"}
    try:
        payload = _plaintext(item, conversation, keystore, own_device_id)
    except _Unreadable as reason:
        return record | {"status": "unreadable", "reason": str(reason)}
    return record | {"status": "ok", "payload": payload}


class _Unreadable(Exception):
    """Why one message cannot be opened here; the others still are."""


def _plaintext(
    item: Mapping[str, Any],
    conversation: Mapping[str, Any],
    keystore: Keystore,
    own_device_id: str | None,
) -> dict[str, Any]:
    if own_device_id is None:
        raise _Unreadable("this keystore has no device")
    try:
        envelope = Envelope.from_wire(item["envelope"])
    except EnvelopeError as error:
        raise _Unreadable(f"malformed envelope: {error}") from error
    if envelope.message_id != item.get("message_id") or envelope.sender_device_id != item.get(
        "sender_device_id"
    ):
        raise _Unreadable("the server's fields differ from the signed envelope")
    sender = _sender_device(item, conversation, keystore)
    if own_device_id not in envelope.keys:
        raise _Unreadable("sent before this device existed, or not to it")
    for own_kx in keystore.all_kx():
        for sender_kx in sender["kx_keys"]:
            try:
                plain = open_envelope(
                    envelope,
                    conversation_id=str(item["conversation_id"]),
                    own_device_id=own_device_id,
                    own_kx=own_kx,
                    sender_identity_public=sender["identity_key"],
                    sender_kx_public=sender_kx,
                )
            except EnvelopeError as error:
                if error.field != "keys":
                    raise _Unreadable(str(error)) from error
                continue
            return _payload(plain)
    raise _Unreadable("none of this device's keys opens it")


def _sender_device(
    item: Mapping[str, Any], conversation: Mapping[str, Any], keystore: Keystore
) -> dict[str, Any]:
    """The sender device's keys from the export, checked against its signature and our pins."""
    device_id, account_id = item.get("sender_device_id"), item.get("sender_account_id")
    device = next(
        (d for d in conversation.get("devices", []) if d.get("device_id") == device_id), None
    )
    if device is None or device.get("account_id") != account_id:
        raise _Unreadable("the sender device is not a participant's device")
    stored = keystore.state.conversations.get(str(item.get("conversation_id")))
    known = stored.participant(str(account_id)) if stored else None
    handles = {p["account_id"]: p.get("handle") for p in conversation.get("participants", [])}
    handle = known.handle if known else handles.get(account_id)
    try:
        identity = b64d(device["identity_key"])
        candidates = [(device["kx_key"], device["kx_signature"])] + [
            (p["kx_key"], p["kx_signature"]) for p in device.get("previous_kx_keys", [])
        ]
        kx_keys = [
            b64d(k)
            for k, s in candidates
            if verify_kx_signature(identity, str(handle), b64d(k), b64d(s))
        ]
    except (KeyError, ValueError) as error:
        raise _Unreadable("the sender device's keys are malformed") from error
    pinned = keystore.state.listed_devices.get(str(account_id), {}).get(str(device_id))
    if pinned is not None and pinned != device["identity_key"]:
        raise _Unreadable("the sender device's identity key differs from the one pinned here")
    if not kx_keys:
        raise _Unreadable("the sender device's kx key is not signed for its handle")
    return {"identity_key": identity, "kx_keys": kx_keys}


def _payload(plain: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise _Unreadable("the payload is not UTF-8 JSON") from error
    if not isinstance(payload, dict):
        raise _Unreadable("the payload is not a JSON object")
    return payload


def write_readable(
    readable: Mapping[str, Any],
    json_path: str | os.PathLike[str],
    html_path: str | os.PathLike[str],
) -> None:
    """The decrypted export as JSON and as one HTML page a person can open and read."""
    Path(json_path).write_text(json.dumps(readable, ensure_ascii=False, indent=2), encoding="utf-8")
    Path(html_path).write_text(render_html(readable), encoding="utf-8")


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
        return f'<div class="m">{meta}<div>{text}</div></div>'
    if status == "deleted":
        return f'<div class="m">{meta}<div class="gone">deleted</div></div>'
    reason = _e(message.get("reason"))
    return f'<div class="m">{meta}<div class="gone">could not be opened: {reason}</div></div>'


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)
