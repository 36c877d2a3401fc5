"""The device's secrets and memory in one passphrase-encrypted file (argon2id + SecretBox).

Everything a device must not lose or leak lives here: its keys (old kx keys too, while
kept messages may need them: ``rotation.py``), session, the identity keys the accounts' device
listings showed (sender trust and key-change detection), verified safety numbers,
and per conversation the ``seq`` it has processed and every message id it accepted
(16 bytes each, kept for good: a server replaying an old message under a new ``seq``
must find it remembered however long ago it was). Writes are atomic (temp file,
fsync, rename) with mode 0600, so a crash leaves either the old or the new file,
never half of one.

One process at a time: an open keystore holds an exclusive lock (``<file>.lock``).
Two processes sharing one would each rotate the refresh token and overwrite the
other's file, and a refresh token presented twice makes the gateway revoke the
whole device session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path

import nacl.pwhash
import nacl.secret

from haven_client.errors import KeystoreError
from haven_client.keys import DeviceKeys, kx_from_b64
from haven_client.keystore_files import acquire_lock, atomic_write, release_lock, shred
from haven_client.keystore_format import FORMAT, KdfParams, derive, load
from haven_client.keystore_ids import IdSet, id_digest
from haven_client.keystore_state import (
    KeystoreState,
    StoredAccount,
    StoredConversation,
    StoredParticipant,
)
from haven_crypto.crypto import KxPrivateKey, b64d, b64e, random_bytes

# Where the SDK and its users have always found them.
__all__ = [
    "KdfParams",
    "Keystore",
    "KeystoreState",
    "StoredAccount",
    "StoredConversation",
    "StoredParticipant",
]

_OLD_KX = 1040  # a bound only (20 years of weekly keys): rotation.py drops what is not needed


class Keystore:
    """An open keystore: the derived key stays in memory so saves need no second argon2 run."""

    def __init__(
        self,
        path: Path,
        key: bytes,
        salt: bytes,
        kdf: KdfParams,
        state: KeystoreState,
        lock: int | None = None,
    ) -> None:
        self.path = path
        self._lock = lock
        self._closed = False
        self._wiped = False
        self.state = state
        self._box = nacl.secret.SecretBox(key)
        self._salt = salt
        self._kdf = kdf
        self._accepted = {cid: IdSet(b64d(text)) for cid, text in state.accepted_ids.items()}

    @classmethod
    async def create(
        cls, path: str | os.PathLike[str], passphrase: str, kdf: KdfParams | None = None
    ) -> Keystore:
        """A new, empty keystore; refuses to overwrite an existing file."""
        target = Path(path)
        if await asyncio.to_thread(target.exists):
            raise KeystoreError(f"{target} already exists")
        params = kdf or KdfParams()
        salt = random_bytes(nacl.pwhash.argon2id.SALTBYTES)
        lock = await asyncio.to_thread(acquire_lock, target)
        try:
            key = await asyncio.to_thread(derive, passphrase, salt, params)
            store = cls(target, key, salt, params, KeystoreState(), lock)
            store.save()
        except BaseException:
            release_lock(lock)
            raise
        return store

    @classmethod
    async def open(cls, path: str | os.PathLike[str], passphrase: str) -> Keystore:
        target = Path(path)
        lock = await asyncio.to_thread(acquire_lock, target)
        try:
            key, salt, params, state = await load(target, passphrase)
        except BaseException:
            release_lock(lock)
            raise
        return cls(target, key, salt, params, state, lock)

    @classmethod
    async def open_or_create(
        cls, path: str | os.PathLike[str], passphrase: str, kdf: KdfParams | None = None
    ) -> Keystore:
        if await asyncio.to_thread(Path(path).exists):
            return await cls.open(path, passphrase)
        return await cls.create(path, passphrase, kdf)

    def save(self) -> None:
        """Encrypt under a fresh nonce and replace the file atomically.

        Synchronous on purpose: the file is small, and callers rely on the state being
        durable when this returns (a refresh token, a kx key about to be announced). After
        ``wipe`` it writes nothing: the file must never come back."""
        if self._wiped:
            return
        if self._closed:
            raise KeystoreError("keystore is closed; a write now could clobber its next owner")
        for conversation_id, ids in self._accepted.items():
            if ids.dirty:
                self.state.accepted_ids[conversation_id] = ids.dump()
        plain = self.state.model_dump_json().encode("utf-8")
        document = {
            "format": FORMAT,
            "version": 1,
            "kdf": {
                "alg": "argon2id",
                "salt": b64e(self._salt),
                "opslimit": self._kdf.opslimit,
                "memlimit": self._kdf.memlimit,
            },
            "box": b64e(bytes(self._box.encrypt(plain))),
        }
        atomic_write(self.path, json.dumps(document).encode("utf-8"))

    def close(self) -> None:
        """Release the file lock; the state stays readable, but ``save`` now refuses."""
        lock, self._lock = self._lock, None
        self._closed = True
        release_lock(lock)

    def write_decrypted(self, path: str | os.PathLike[str], data: bytes) -> None:
        """Write decrypted content 0600 from creation (atomically) and remember the file, so
        the panic wipe shreds it with the keystore."""
        target = Path(path).resolve()
        atomic_write(target, data)
        if str(target) not in self.state.decrypted_files:
            self.state.decrypted_files.append(str(target))
            self.save()

    def wipe(self) -> None:
        """Panic exit: overwrite the file (and every decrypted file written through it),
        delete it and its lock, forget everything held in memory (keys, session, caches).
        The keystore cannot be used afterwards."""
        for written in self.state.decrypted_files:
            shred(Path(written))
        self._wiped = True
        self.state = KeystoreState()
        self._accepted.clear()
        shred(self.path)
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.with_name(self.path.name + ".lock").unlink()

    async def change_passphrase(self, passphrase: str, kdf: KdfParams | None = None) -> None:
        self._kdf = kdf or self._kdf
        self._salt = random_bytes(nacl.pwhash.argon2id.SALTBYTES)
        key = await asyncio.to_thread(derive, passphrase, self._salt, self._kdf)
        self._box = nacl.secret.SecretBox(key)
        self.save()

    # --- device keys ------------------------------------------------------------------

    def device_keys(self) -> DeviceKeys | None:
        if self.state.identity_seed is None or self.state.kx_private is None:
            return None
        return DeviceKeys.from_secrets(b64d(self.state.identity_seed), b64d(self.state.kx_private))

    def set_device_keys(self, keys: DeviceKeys, at: str | None = None) -> None:
        """Install keys (created at ``at``, ISO UTC); a replaced kx key moves to ``old_kx``
        with the time it was retired (same identity only)."""
        state, current = self.state, self.state.kx_private
        same_identity = state.identity_seed == b64e(keys.identity_seed)
        if current is not None and same_identity and current != b64e(keys.kx_private):
            retired = [*state.old_kx_retired_at, *[""] * len(state.old_kx)][: len(state.old_kx)]
            state.old_kx = [*state.old_kx, current][-_OLD_KX:]
            state.old_kx_retired_at = [*retired, at or ""][-_OLD_KX:]
        elif not same_identity:
            state.old_kx, state.old_kx_retired_at = [], []
        state.identity_seed = b64e(keys.identity_seed)
        state.kx_private = b64e(keys.kx_private)
        state.kx_created_at = at

    def all_kx(self) -> list[KxPrivateKey]:
        """Current kx key first, then older ones newest first: what may open a message to us."""
        found = [] if self.state.kx_private is None else [self.state.kx_private]
        return [kx_from_b64(text) for text in [*found, *reversed(self.state.old_kx)]]

    # --- delivery memory --------------------------------------------------------------

    def last_seq(self, conversation_id: str) -> int:
        return self.state.last_seq.get(conversation_id, 0)

    def advance_seq(self, conversation_id: str, seq: int) -> None:
        if seq > self.last_seq(conversation_id):
            self.state.last_seq[conversation_id] = seq

    def has_seen(self, conversation_id: str, message_id: str) -> bool:
        ids = self._accepted.get(conversation_id)
        return ids is not None and id_digest(message_id) in ids

    def remember(self, conversation_id: str, message_id: str) -> None:
        self._accepted.setdefault(conversation_id, IdSet()).add(id_digest(message_id))
