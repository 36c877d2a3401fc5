"""Account deletion: password-confirmed, revoked at once, completed by every service.

In the request: the account becomes `deleted` (no login finds it; its handle stays taken),
every device is revoked (tokens refused, sockets closed with 4403), refresh tokens and unused
invites go, open relationships end (`relationship.ended`), and `account.deleted` is emitted
through the outbox. Messaging and notification complete it from their durable queues, also
after an outage. Each step is idempotent; an interruption is completed by the sweep
(`finish_pending`), so a deletion never stays half done. The answer is a receipt signed with
the receipt key (a key of its own, `security/receipt_keys.py`;
`clients/python/haven_crypto/receipts.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog

from haven_crypto.crypto import b64e
from haven_crypto.receipts import canonical
from services.gateway.model.principal import Principal
from services.gateway.model.records import Account
from services.gateway.security.receipt_keys import ReceiptSigner
from services.gateway.stores.accounts import AccountRepository, DeviceRepository
from services.gateway.stores.audit import AuditLog
from services.gateway.stores.outbox import Outbox
from services.gateway.stores.personal_data import PersonalData
from services.gateway.stores.relationships import RelationshipRepository
from services.gateway.usecases.devices import Devices
from shared.events import (
    AccountData,
    AccountDeleted,
    RelationshipEnded,
    RelationshipEndedData,
    utcnow,
)
from shared.wire import iso_utc

log = structlog.get_logger(__name__)

# `Accounts.confirm_password`: the caller's password again, with the session's guess limit.
ConfirmPassword = Callable[[Principal, str, str], Awaitable[Account]]

RECEIPT_TYPE = "haven.account_deletion"
DELETES = (
    "devices, sessions and refresh tokens (revoked at once)",
    "display name, password hash and device names",
    "relationships (ended; counterparts keep their copy of the conversation under retention)",
    "every message the account sent (counterparts see tombstones without content)",
    "every encrypted attachment the account uploaded",
    "read markers, push subscriptions, notification settings, availability and pending "
    "notifications",
    "every invite the account created or used, and its settings in its relationships",
    "its devices' names and key-agreement keys",
    "its backup keys' public keys and signatures (the backup key is retired at once)",
)
KEEPS = (
    "the account id and handle, so the handle is never given to anyone else",
    "its devices' ids, public identity keys and dates, so an identity key is never accepted "
    "again (no names, no key-agreement keys)",
    "its backup keys' ids and dates",
    "its relationships' ids, the other participant and their dates, for the other "
    "participant's copy of the conversation",
    "security audit metadata about the account, until the audit retention period ends",
    "the record of agreement acceptances and withdrawals (versions and times)",
)


class AccountDeletion:
    def __init__(
        self,
        *,
        accounts: AccountRepository,
        devices: DeviceRepository,
        device_rules: Devices,
        data: PersonalData,
        confirm: ConfirmPassword,
        outbox: Outbox,
        audit: AuditLog,
        signer: ReceiptSigner,
        relationships: RelationshipRepository,
        remove_files: Callable[[str], Awaitable[int]] | None = None,
    ) -> None:
        self._remove_files = remove_files
        self._relationships = relationships
        self._accounts = accounts
        self._devices = devices
        self._device_rules = device_rules
        self._data = data
        self._confirm = confirm
        self._outbox = outbox
        self._audit = audit
        self._signer = signer

    async def delete(self, who: Principal, password: str) -> tuple[dict[str, Any], str]:
        """The receipt and its signature; 401 for a wrong password (login's back-off, and the
        session ends after five wrong ones in a row, as on a password change)."""
        account = await self._confirm(who, password, "account_delete")
        requested_at = utcnow()
        await self._data.mark_deleted(account.account_id, requested_at)
        await self.finish(account.account_id)
        await self._audit.record(
            "account_deleted", account_id=account.account_id, device_id=who.device_id
        )
        return self.receipt(account.account_id, account.handle, requested_at)

    async def finish(self, account_id: str) -> None:
        """Everything the gateway does for a deleted account; safe to run again."""
        now = utcnow()
        for device in await self._devices.active_of(account_id):
            await self._device_rules.revoke(device, reason="account_deleted")
        await self._data.forget_tokens(account_id)
        for relationship in await self._data.open_relationships(account_id):
            await self._relationships.end(relationship.conversation_id, account_id, now)
            ended = RelationshipEndedData(
                conversation_id=relationship.conversation_id, ended_by=account_id
            )
            await self._outbox.emit(RelationshipEnded.create(ended))
        await self._outbox.emit(AccountDeleted.create(AccountData(account_id=account_id)))
        if self._remove_files is not None:
            await self._remove_files(account_id)  # its uploaded attachments (idempotent)
        await self._data.strip_account(account_id, now)
        log.info("account_erased_in_gateway", account_id=account_id)

    async def finish_pending(self) -> int:
        """Complete deletions interrupted half way (a crash, the store away)."""
        pending = await self._data.unfinished_deletions()
        for account_id in pending:
            await self.finish(account_id)
        return len(pending)

    def receipt(
        self, account_id: str, handle: str, requested_at: datetime
    ) -> tuple[dict[str, Any], str]:
        receipt: dict[str, Any] = {
            "type": RECEIPT_TYPE,
            "version": 1,
            "account_id": account_id,
            "handle": handle,
            "requested_at": iso_utc(requested_at),
            "deletes": list(DELETES),
            "keeps": list(KEEPS),
            "key_id": self._signer.kid,
        }
        return receipt, b64e(self._signer.sign(canonical(receipt)))
