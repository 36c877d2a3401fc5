"""The streamed export: everything the server holds about the caller as one JSON document,
written piece by piece so memory stays flat however long the history is.

Gateway data (account, devices, conversations with the caller's own settings and their
participants' public device keys, agreement acceptances and withdrawals, the audit entries
about the caller) comes from its own store through cursors; notification's
facts over one RPC; messages from messaging a page at a time (`messaging.export`, keyset by
conversation and seq), envelopes still ciphertext; the conversations' encrypted files
(`attachments`, base64url inline, read one stored chunk at a time). Counterparts appear only
as what reading a conversation needs: account id, handle, role and their devices' public
keys. The last member, `"complete": true`, tells a reader the document was not cut short.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from haven_crypto.crypto import b64e
from services.gateway.model.principal import Principal
from services.gateway.model.records import (
    Account,
    AuditRecord,
    Backup,
    Device,
    Link,
    ParticipantSettings,
    Relationship,
)
from services.gateway.stores.accounts import AccountRepository
from services.gateway.stores.agreements import AgreementRepository
from services.gateway.stores.attachments import AttachmentStore
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.personal_data import PersonalData
from services.gateway.stores.relationships import RelationshipRepository
from shared.contracts import EXPORT, ExportCursor, ExportQuery
from shared.data_contracts import NOTIFICATION_EXPORT, PersonalDataQuery
from shared.errors import NotFoundError
from shared.events import utcnow
from shared.rpc import RpcClient
from shared.wire import iso_utc

FORMAT = "haven-export"
VERSION = 1
PAGE = 100
RPC_TIMEOUT = 10.0  # a page of a long history on a busy store; the request's TTL cap


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _time(value: Any) -> str | None:
    return None if value is None else iso_utc(value)


def public_device(device: Device) -> dict[str, Any]:
    """What anyone in a conversation may know of a device: its keys, never name or presence."""
    return {
        "device_id": device.device_id,
        "account_id": device.account_id,
        "identity_key": b64e(device.identity_key),
        "kx_key": b64e(device.kx_key),
        "kx_signature": b64e(device.kx_signature),
        "previous_kx_keys": [
            {"kx_key": b64e(p.kx_key), "kx_signature": b64e(p.kx_signature)}
            for p in device.previous_kx_keys
        ],
        "created_at": _time(device.created_at),
        "revoked_at": _time(device.revoked_at),
    }


def own_device(device: Device) -> dict[str, Any]:
    return public_device(device) | {
        "name": device.name,
        "last_seen_at": _time(device.last_seen_at),
    }


def shown_devices(r: Relationship, devices: list[Device], account_id: str) -> list[Device]:
    """The participants' devices in `account_id`'s export; after the end, the other's as they
    stood then (no device, key rotation or revocation since: an ex-counterpart sees nothing
    current), and none of an erased account (its messages went with it)."""
    ended = r.ended_at if r.status == "ended" else None
    shown = []
    for device in devices:
        if device.account_id not in r.participants or device.erased:
            continue
        if device.account_id == account_id or ended is None:
            shown.append(device)
        elif device.created_at <= ended:
            shown.append(device.as_of(ended))
    return shown


def backup_part(backup: Backup) -> dict[str, Any]:
    """A backup key the account published: public key and signatures only (the server never
    holds anything that opens a message)."""
    return {
        "backup_id": backup.backup_id,
        "kx_key": b64e(backup.kx_key),
        "signatures": {d: b64e(s) for d, s in sorted(backup.signatures.items())},
        "created_at": _time(backup.created_at),
        "revoked_at": _time(backup.revoked_at),
    }


def link_part(link: Link) -> dict[str, Any]:
    """A device link not yet acknowledged: the box stays opaque (only the target opens it)."""
    return {
        "link_id": link.link_id,
        "sender_device_id": link.sender_device_id,
        "device_id": link.device_id,
        "ciphertext": b64e(link.ciphertext),
        "created_at": _time(link.created_at),
        "expires_at": _time(link.expires_at),
    }


def account_part(account: Account) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "handle": account.handle,
        "role": account.role,
        "display_name": account.display_name,
        "created_at": _time(account.created_at),
    }


def audit_part(entry: AuditRecord, account_id: str | None = None) -> dict[str, Any]:
    """An entry in `account_id`'s copy; what another account did shows without that
    account's device or address (the counterpart's metadata stays theirs)."""
    own = account_id is None or entry.account_id == account_id
    return {
        "type": entry.type,
        "at": _time(entry.at),
        "device_id": entry.device_id if own else None,
        "address": entry.address if own else None,
        "by_you": own,
        "details": entry.details,
    }


def _own_settings(settings: ParticipantSettings) -> dict[str, Any]:
    """The caller's own choices in a conversation (the counterpart's are theirs alone)."""
    chosen: dict[str, Any] = {"share_read_receipts": settings.share_read_receipts}
    if settings.retention_chosen:
        chosen["retention_days"] = settings.retention_days
    return chosen


class Exporter:
    def __init__(
        self,
        *,
        accounts: AccountRepository,
        relationships: RelationshipRepository,
        data: PersonalData,
        rpc: RpcClient,
        agreements: AgreementRepository,
        audit: AuditLog,
        attachments: AttachmentStore | None = None,
    ) -> None:
        self._attachments = attachments
        self._audit_log = audit
        self._agreements = agreements
        self._accounts = accounts
        self._relationships = relationships
        self._data = data
        self._rpc = rpc

    async def chunks(self, who: Principal) -> AsyncIterator[bytes]:
        """The document in pieces; the first one is ready before anything is sent."""
        account = await self._accounts.by_id(who.account_id)
        if account is None:
            raise NotFoundError("no such account")
        await self._audit_log.record(
            "data_exported", account_id=who.account_id, device_id=who.device_id, address=who.address
        )
        found = await self._relationships.of_account(who.account_id)
        notification = await self._rpc.call(
            NOTIFICATION_EXPORT, PersonalDataQuery(account_id=who.account_id)
        )
        head = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": iso_utc(utcnow()),
            "account": account_part(account),
            "devices": [own_device(d) for d in await self._data.devices_of([who.account_id])],
            "backups": [backup_part(b) for b in await self._data.backups_of(who.account_id)],
            "links": [link_part(link) for link in await self._data.links_of(who.account_id)],
            "conversations": await self._conversations(who, found),
            "notifications": notification.model_dump(mode="json"),
            "agreement_consents": [
                {"kind": c.kind, "version": c.version, "at": _time(c.at)}
                for c in await self._agreements.consents_of(who.account_id)
            ],
        }
        yield _json(head)[:-1]  # the object stays open for the streamed members
        yield b',"audit":['
        async for piece in self._separated(self._audit(who)):
            yield piece
        yield b'],"messages":['
        async for piece in self._separated(self._messages([r.conversation_id for r in found])):
            yield piece
        yield b'],"attachments":['
        async for piece in self._files([r.conversation_id for r in found], who.account_id):
            yield piece
        yield b'],"complete":true}'

    async def _conversations(
        self, who: Principal, found: list[Relationship]
    ) -> list[dict[str, Any]]:
        ids = sorted({a for r in found for a in r.participants})
        people = await self._accounts.by_ids(ids)
        devices = await self._data.devices_of(ids)
        return [
            {
                "conversation_id": r.conversation_id,
                "status": r.status,
                "created_at": _time(r.created_at),
                "ended_at": _time(r.ended_at),
                "retention_days": r.retention_days,
                "your_settings": _own_settings(r.settings_of(who.account_id)),
                "participants": [
                    {
                        "account_id": a,
                        "handle": people[a].handle if a in people else None,
                        "role": people[a].role if a in people else None,
                        "you": a == who.account_id,
                    }
                    for a in r.participants
                ],
                "devices": [public_device(d) for d in shown_devices(r, devices, who.account_id)],
            }
            for r in found
        ]

    async def _audit(self, who: Principal) -> AsyncIterator[bytes]:
        async with aclosing(self._data.audit_about(who.account_id)) as entries:
            async for entry in entries:
                yield _json(audit_part(entry, who.account_id))

    async def _messages(self, conversation_ids: list[str]) -> AsyncIterator[bytes]:
        """A page at a time from messaging: at most one page is held here."""
        if not conversation_ids:
            return
        after: ExportCursor | None = None
        while True:
            query = ExportQuery(conversation_ids=conversation_ids, after=after, limit=PAGE)
            page = await self._rpc.call(EXPORT, query, timeout=RPC_TIMEOUT)
            for item in page.messages:
                yield item.model_dump_json().encode()
            if page.next is None:
                return
            after = page.next

    async def _files(self, conversation_ids: list[str], account_id: str) -> AsyncIterator[bytes]:
        """Each blob as base64url inside the JSON, one stored chunk at a time."""
        if self._attachments is None or not conversation_ids:
            return
        for number, blob in enumerate(
            await self._attachments.of_conversations(conversation_ids, account_id)
        ):
            head = {
                "attachment_id": blob.attachment_id,
                "conversation_id": blob.conversation_id,
                "message_id": blob.message_id,
                "size": blob.size,
            }
            yield (b"," if number else b"") + _json(head)[:-1] + b',"blob":"'
            carry = b""
            async for piece in self._attachments.read(blob.attachment_id, 0, blob.size - 1):
                data = carry + piece
                cut = len(data) - len(data) % 3
                yield base64.urlsafe_b64encode(data[:cut]).rstrip(b"=")
                carry = data[cut:]
            yield base64.urlsafe_b64encode(carry).rstrip(b"=") + b'"}'

    @staticmethod
    async def _separated(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        first = True
        async for piece in pieces:
            yield piece if first else b"," + piece
            first = False
