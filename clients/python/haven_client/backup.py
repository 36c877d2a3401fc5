"""Key backup: turn it on, replace or remove the key, restore history with the recovery key.

The account's backup key is a recipient like a device (docs/history.md): senders wrap
every message's content key for it once a device of the account signed it. Its private
half derives from a recovery key shown once to the person who turns backup on. The server
only ever sees the public half.

Restoring opens every kept message through the backup wrap with all the checks a live
receiver runs (``opener.py``), keeps each restored message's content key so the history
stays readable here, and keeps nothing of the recovery key unless asked.
"""

from __future__ import annotations

import dataclasses

from haven_client import copy_history
from haven_client.api import HavenApi
from haven_client.conversations import Conversations
from haven_client.directory import Directory
from haven_client.errors import HavenError, NotLoggedIn
from haven_client.events import InvalidMessage, MessageDeleted, ReceivedMessage
from haven_client.historyapi import BackupInfo, HistoryApi
from haven_client.historykeys import ANY, HistoryKeys
from haven_client.keystore import Keystore
from haven_client.opener import Opened, Opener
from haven_crypto.backup import (
    RecoveryKeyError,
    backup_keypair,
    encode_recovery_key,
    generate_recovery_key,
    parse_recovery_key,
    sign_backup_key,
)
from haven_crypto.crypto import KxPrivateKey

PAGE = 200


class NoBackup(HavenError):
    """The account has no backup key: there is nothing to restore."""

    def __init__(self) -> None:
        super().__init__(copy_history.NO_BACKUP)


class RecoveryKeyTypo(HavenError):
    """The text is not a recovery key (a typo, a missing or extra character)."""

    def __init__(self) -> None:
        super().__init__(copy_history.RECOVERY_KEY_TYPO)


class WrongRecoveryKey(HavenError):
    """A well-formed recovery key that is not the account's: nothing was opened or kept."""

    def __init__(self) -> None:
        super().__init__(copy_history.WRONG_RECOVERY_KEY)


@dataclasses.dataclass(frozen=True, kw_only=True)
class BackupStatus:
    on: bool
    backup_id: str | None = None
    kept_here: bool = False
    """This device holds the backup's private half (it can approve a new device with it)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class RestoreReport:
    conversations: int
    messages: list[Opened]
    """Every kept message in order per conversation: opened, deleted, or failed a check."""
    kept_backup_key: bool

    @property
    def opened(self) -> list[ReceivedMessage]:
        return [m for m in self.messages if isinstance(m, ReceivedMessage)]

    @property
    def failed(self) -> list[InvalidMessage]:
        """Messages that did not verify: shown as such, never as text."""
        return [m for m in self.messages if isinstance(m, InvalidMessage)]

    @property
    def deleted(self) -> list[MessageDeleted]:
        return [m for m in self.messages if isinstance(m, MessageDeleted)]


class Backups:
    def __init__(
        self,
        *,
        api: HavenApi,
        history_api: HistoryApi,
        store: Keystore,
        directory: Directory,
        conversations: Conversations,
        opener: Opener,
        keys: HistoryKeys,
    ) -> None:
        self._api = api
        self._wire = history_api
        self._store = store
        self._directory = directory
        self._conversations = conversations
        self._opener = opener
        self._keys = keys

    async def status(self) -> BackupStatus:
        info = await self._wire.backup()
        if info is None:
            return BackupStatus(on=False)
        kept = any(i in self._store.state.backup_keys for i in info.all_ids)
        return BackupStatus(on=True, backup_id=info.backup_id, kept_here=kept)

    async def enable(
        self, *, recovery_key: bytes | None = None, replace: bool = False
    ) -> tuple[str, BackupInfo]:
        """Publish a new backup key; returns the recovery key's text form (show it once,
        never store it) and the published key. ``recovery_key`` (32 bytes) lets an app show
        the key and have it confirmed before publishing. Without ``replace`` an existing
        backup stays as it is."""
        if not replace and await self._wire.backup() is not None:
            raise HavenError(copy_history.ALREADY_ON)
        rk = generate_recovery_key() if recovery_key is None else recovery_key
        pair = backup_keypair(rk)
        info = await self._publish(pair)
        self._keys.forget_backups()
        self._keep(info, pair)
        return encode_recovery_key(rk), info

    async def disable(self) -> None:
        """Remove the backup key: messages from now on are not wrapped for it. Messages
        already sent stay openable by whoever holds the old recovery key."""
        await self._wire.delete_backup()
        self._keys.forget_backups()
        self._invalidate_own()

    async def restore(self, recovery_key: str, *, keep: bool = False) -> RestoreReport:
        """Open the whole kept history with ``recovery_key`` (text form). A wrong key is
        refused before anything is read or stored; ``keep`` keeps the backup's private
        half here (never the recovery key itself)."""
        try:
            rk = parse_recovery_key(recovery_key)
        except RecoveryKeyError as exc:
            raise RecoveryKeyTypo from exc
        pair = backup_keypair(rk)
        info = await self._wire.backup()
        if info is not None and info.kx_key != bytes(pair.public_key):
            raise WrongRecoveryKey
        # None published (its only signing device was revoked, say): the key is right for
        # whatever it opens, and refused if it opens nothing (docs/history.md).
        ids = [ANY] if info is None else info.all_ids
        messages: list[Opened] = []
        conversations = await self._conversations.refresh()
        before = self._keys.opened_total
        for backup_id in ids:
            self._keys.add_transient(backup_id, pair)
        try:
            for conversation in conversations:
                messages.extend(await self._whole_history(conversation.conversation_id))
        finally:
            self._keys.drop_transient()
        if info is None and self._keys.opened_total == before:
            raise NoBackup
        if info is not None:
            info = await self.vouch(info)  # this device now vouches for the key too
            if keep:
                self._keep(info, pair)
        return RestoreReport(
            conversations=len(conversations),
            messages=messages,
            kept_backup_key=keep and info is not None,
        )

    async def vouch(self, info: BackupInfo) -> BackupInfo:
        """Add this device's signature to the published key (the same key, a new id), so the
        backup outlives the device that turned it on; the other signatures of active devices
        stay. Called once this device proved the key is the account's (restore, link)."""
        state, keys = self._store.state, self._store.device_keys()
        if state.account is None or state.device_id is None or keys is None:
            raise NotLoggedIn("log in first")
        if state.device_id in info.signatures:
            return info
        account = state.account
        active = {
            d.device_id
            for d in await self._directory.active_devices(
                account.account_id, account.handle, fresh=True
            )
        }
        signatures = {d: s for d, s in info.signatures.items() if d in active}
        signatures[state.device_id] = sign_backup_key(keys.identity, account.handle, info.kx_key)
        vouched = await self._wire.put_backup(info.kx_key, signatures)
        self._invalidate_own()
        # The answer to PUT has no earlier ids; GET names every id of this key (wraps for
        # each open with it).
        current = await self._wire.backup()
        return current if current is not None else vouched

    async def _whole_history(self, conversation_id: str) -> list[Opened]:
        conversation = await self._conversations.get(conversation_id)
        opened: list[Opened] = []
        after = 0
        while True:
            page = await self._api.history(conversation_id, after_seq=after, limit=PAGE)
            fresh = sorted((m for m in page.messages if m.seq > after), key=lambda m: m.seq)
            for item in fresh:
                opened.append(await self._opener.open_item(item, conversation))
            self._keys.flush()
            if not page.has_more or not fresh:
                return opened
            after = fresh[-1].seq

    async def _publish(self, pair: KxPrivateKey) -> BackupInfo:
        state, keys = self._store.state, self._store.device_keys()
        if state.account is None or state.device_id is None or keys is None:
            raise NotLoggedIn("log in first")
        public = bytes(pair.public_key)
        signature = sign_backup_key(keys.identity, state.account.handle, public)
        info = await self._wire.put_backup(public, {state.device_id: signature})
        self._invalidate_own()
        return info

    def _keep(self, info: BackupInfo, pair: KxPrivateKey) -> None:
        for backup_id in info.all_ids:
            self._keys.keep(backup_id, pair)

    def _invalidate_own(self) -> None:
        if self._store.state.account is not None:
            self._directory.invalidate(self._store.state.account.account_id)
