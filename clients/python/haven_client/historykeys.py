"""The keys that open messages older than this device: backup secrets and restored content keys.

A message not wrapped for this device may still carry a key box for the account's backup
recipient. This device opens it when it holds that backup's private half, either kept
(``KeystoreState.backup_keys``: it turned backup on, was linked, or the user asked to keep
it) or only for the duration of a restore (``add_transient``). Each message opened that way
leaves its content key in ``KeystoreState.restored_keys``, so the restored history stays
readable on this device without keeping the recovery key (docs/history.md).

The opener runs every sender check before calling ``open``; ``open`` itself verifies the
signature, the box (from the sender device's kx key) and the commitment before decrypting.
"""

from __future__ import annotations

from haven_client.keystore import Keystore
from haven_crypto.crypto import EnvelopeError, KxPrivateKey, b64d, b64e
from haven_crypto.envelope import Envelope
from haven_crypto.restore import open_with_content_key, unwrap_content_key

ANY = "*"
"""A transient backup key tried on every key box (no backup is published any more to name it)."""


class HistoryKeys:
    def __init__(self, store: Keystore) -> None:
        self._store = store
        self._transient: dict[str, KxPrivateKey] = {}
        self.opened = 0
        """Messages opened through a backup key since the last ``flush``."""
        self.opened_total = 0

    def backup_keys(self) -> dict[str, KxPrivateKey]:
        kept = {
            backup_id: KxPrivateKey(b64d(secret))
            for backup_id, secret in self._store.state.backup_keys.items()
        }
        return {**kept, **self._transient}

    def keep(self, backup_id: str, secret: KxPrivateKey) -> None:
        """Keep a backup's private half on this device (it is as secret as the device keys)."""
        self._store.state.backup_keys[backup_id] = b64e(bytes(secret))
        self._store.save()

    def forget_backups(self) -> None:
        """Drop every kept backup secret (backup turned off or replaced); restored content
        keys stay: the history already restored remains readable here."""
        self._store.state.backup_keys.clear()
        self._store.save()

    def add_transient(self, backup_id: str, secret: KxPrivateKey) -> None:
        """Open with ``secret`` until ``drop_transient``; nothing of it is written anywhere."""
        self._transient[backup_id] = secret

    def drop_transient(self) -> None:
        self._transient.clear()

    def open(
        self,
        envelope: Envelope,
        *,
        conversation_id: str,
        sender_identity_public: bytes,
        sender_kx: list[bytes],
    ) -> bytes | None:
        """The plaintext, or None if this device holds no key for it; ``EnvelopeError`` if a
        key it holds meets a message that fails a check."""
        restored = self._store.state.restored_keys.get(conversation_id, {})
        stored = restored.get(envelope.message_id)
        if stored is not None:
            return open_with_content_key(
                envelope,
                conversation_id=conversation_id,
                content_key=b64d(stored),
                sender_identity_public=sender_identity_public,
            )
        for backup_id, secret in self.backup_keys().items():
            if backup_id == ANY:
                found = _probe(envelope, conversation_id, secret, sender_identity_public, sender_kx)
                if found is None:
                    continue
                content_key = found
            elif backup_id not in envelope.keys:
                continue
            else:
                content_key = _unwrap(
                    envelope, conversation_id, backup_id, secret, sender_identity_public, sender_kx
                )
            plain = open_with_content_key(
                envelope,
                conversation_id=conversation_id,
                content_key=content_key,
                sender_identity_public=sender_identity_public,
            )
            keys = self._store.state.restored_keys.setdefault(conversation_id, {})
            keys[envelope.message_id] = b64e(content_key)
            self.opened += 1
            self.opened_total += 1
            return plain
        return None

    def flush(self) -> None:
        """Save restored content keys (callers batch: one write per page, not per message)."""
        if self.opened:
            self._store.save()
            self.opened = 0


def _unwrap(
    envelope: Envelope,
    conversation_id: str,
    backup_id: str,
    secret: KxPrivateKey,
    sender_identity_public: bytes,
    sender_kx: list[bytes],
) -> bytes:
    """Try the sender device's kx keys (current, then older ones: it may have rotated)."""
    failure = EnvelopeError("no kx key of the sender device opens the backup key box", field="keys")
    for peer_kx in sender_kx:
        try:
            return unwrap_content_key(
                envelope,
                conversation_id=conversation_id,
                backup_id=backup_id,
                backup_kx=secret,
                sender_identity_public=sender_identity_public,
                sender_kx_public=peer_kx,
            )
        except EnvelopeError as exc:
            if exc.field != "keys":
                raise
            failure = exc
    raise failure


def _probe(
    envelope: Envelope,
    conversation_id: str,
    secret: KxPrivateKey,
    sender_identity_public: bytes,
    sender_kx: list[bytes],
) -> bytes | None:
    """The content key from whichever box ``secret`` opens (from the sender device), else None."""
    for box_id in envelope.keys:
        try:
            return _unwrap(
                envelope, conversation_id, box_id, secret, sender_identity_public, sender_kx
            )
        except EnvelopeError as exc:
            if exc.field != "keys":
                raise
    return None
