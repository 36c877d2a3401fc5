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
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash
import nacl.secret
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from haven_client.errors import KeystoreError, KeystoreInUse, WrongPassphrase
from haven_client.keys import DeviceKeys, kx_from_b64
from haven_crypto.crypto import KxPrivateKey, b64d, b64e, random_bytes

FORMAT = "haven-keystore"
_OLD_KX = 1040  # a bound only (20 years of weekly keys): rotation.py drops what is not needed
_ID_BYTES = 16


@dataclasses.dataclass(frozen=True)
class KdfParams:
    """argon2id cost; stored in the file so it can be raised later without breaking old files."""

    opslimit: int = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
    memlimit: int = nacl.pwhash.argon2id.MEMLIMIT_MODERATE

    @classmethod
    def interactive(cls) -> KdfParams:
        return cls(
            nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
        )

    @classmethod
    def minimal(cls) -> KdfParams:
        """For tests only: argon2id's floor, milliseconds instead of a second."""
        return cls(nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN)


class StoredAccount(BaseModel):
    account_id: str
    handle: str
    role: str
    display_name: str = ""


class StoredParticipant(BaseModel):
    account_id: str
    handle: str
    display_name: str = ""
    role: str = ""


class StoredConversation(BaseModel):
    conversation_id: str
    status: str = "active"
    participants: list[StoredParticipant] = Field(default_factory=list)

    def participant(self, account_id: str) -> StoredParticipant | None:
        return next((p for p in self.participants if p.account_id == account_id), None)


class KeystoreState(BaseModel):
    """The decrypted content; binary values are base64url strings like on the wire."""

    model_config = ConfigDict(extra="ignore")

    version: int = 1
    server_url: str | None = None
    device_name: str = ""  # empty: the SDK default (session.DEFAULT_DEVICE_NAME)
    identity_seed: str | None = None
    kx_private: str | None = None
    old_kx: list[str] = Field(default_factory=list)
    old_kx_retired_at: list[str] = Field(default_factory=list)
    """When each ``old_kx`` key was replaced (ISO UTC; same order); missing: unknown."""
    kx_created_at: str | None = None
    device_id: str | None = None
    account: StoredAccount | None = None
    refresh_token: str | None = None
    listed_devices: dict[str, dict[str, str]] = Field(default_factory=dict)
    """account id → device id → identity key, pinned when an active-device listing showed it."""
    disputed_devices: dict[str, list[str]] = Field(default_factory=dict)
    """account id → device ids later shown with another identity key (until acknowledged)."""
    seen_kx: dict[str, list[str]] = Field(default_factory=dict)
    verified: dict[str, str] = Field(default_factory=dict)
    last_safety: dict[str, str] = Field(default_factory=dict)
    pending_key_changes: dict[str, str] = Field(default_factory=dict)
    last_seq: dict[str, int] = Field(default_factory=dict)
    accepted_ids: dict[str, str] = Field(default_factory=dict)
    """conversation id → concatenated 16-byte digests of every message id accepted there."""
    conversations: dict[str, StoredConversation] = Field(default_factory=dict)
    crisis_resources: list[dict[str, Any]] = Field(default_factory=list)
    decrypted_files: list[str] = Field(default_factory=list)
    backup_keys: dict[str, str] = Field(default_factory=dict)
    """backup id → private half of the account's backup key, when this device keeps it
    (it turned backup on, was linked, or the user asked to keep it: docs/history.md)."""
    restored_keys: dict[str, dict[str, str]] = Field(default_factory=dict)
    """conversation id → message id → content key of a message restored from the backup."""
    """Files holding decrypted content (readable exports): the panic wipe shreds them too."""


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
        self._accepted = {cid: _IdSet(b64d(text)) for cid, text in state.accepted_ids.items()}

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
        lock = await asyncio.to_thread(_acquire_lock, target)
        try:
            key = await asyncio.to_thread(_derive, passphrase, salt, params)
            store = cls(target, key, salt, params, KeystoreState(), lock)
            store.save()
        except BaseException:
            _release_lock(lock)
            raise
        return store

    @classmethod
    async def open(cls, path: str | os.PathLike[str], passphrase: str) -> Keystore:
        target = Path(path)
        lock = await asyncio.to_thread(_acquire_lock, target)
        try:
            key, salt, params, state = await _load(target, passphrase)
        except BaseException:
            _release_lock(lock)
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
        _atomic_write(self.path, json.dumps(document).encode("utf-8"))

    def close(self) -> None:
        """Release the file lock; the state stays readable, but ``save`` now refuses."""
        lock, self._lock = self._lock, None
        self._closed = True
        _release_lock(lock)

    def write_decrypted(self, path: str | os.PathLike[str], data: bytes) -> None:
        """Write decrypted content 0600 from creation (atomically) and remember the file, so
        the panic wipe shreds it with the keystore."""
        target = Path(path).resolve()
        _atomic_write(target, data)
        if str(target) not in self.state.decrypted_files:
            self.state.decrypted_files.append(str(target))
            self.save()

    def wipe(self) -> None:
        """Panic exit: overwrite the file (and every decrypted file written through it),
        delete it and its lock, forget everything held in memory (keys, session, caches).
        The keystore cannot be used afterwards."""
        for written in self.state.decrypted_files:
            _shred(Path(written))
        self._wiped = True
        self.state = KeystoreState()
        self._accepted.clear()
        _shred(self.path)
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.with_name(self.path.name + ".lock").unlink()

    async def change_passphrase(self, passphrase: str, kdf: KdfParams | None = None) -> None:
        self._kdf = kdf or self._kdf
        self._salt = random_bytes(nacl.pwhash.argon2id.SALTBYTES)
        key = await asyncio.to_thread(_derive, passphrase, self._salt, self._kdf)
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
        return ids is not None and _id_digest(message_id) in ids

    def remember(self, conversation_id: str, message_id: str) -> None:
        self._accepted.setdefault(conversation_id, _IdSet()).add(_id_digest(message_id))


class _IdSet:
    """A set of 16-byte digests that also keeps them in arrival order, ready to store."""

    def __init__(self, raw: bytes = b"") -> None:
        self._raw = bytearray(raw)
        self._members = {raw[i : i + _ID_BYTES] for i in range(0, len(raw), _ID_BYTES)}
        self.dirty = False

    def __contains__(self, digest: bytes) -> bool:
        return digest in self._members

    def add(self, digest: bytes) -> None:
        if digest not in self._members:
            self._members.add(digest)
            self._raw += digest
            self.dirty = True

    def dump(self) -> str:
        self.dirty = False
        return b64e(bytes(self._raw))


def _id_digest(message_id: str) -> bytes:
    """16 bytes, like a UUID; hashing also covers an id that is not one, never confusing two
    ids with each other in practice (a 128-bit digest) and never missing a repeat."""
    return hashlib.blake2b(message_id.encode("utf-8"), digest_size=_ID_BYTES).digest()


async def _load(target: Path, passphrase: str) -> tuple[bytes, bytes, KdfParams, KeystoreState]:
    try:
        document = json.loads(await asyncio.to_thread(target.read_bytes))
        salt, params, sealed = _parse_header(document)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeystoreError(f"cannot read keystore {target}: {exc}") from exc
    key = await asyncio.to_thread(_derive, passphrase, salt, params)
    try:
        plain = nacl.secret.SecretBox(key).decrypt(sealed)
    except nacl.exceptions.CryptoError as exc:
        raise WrongPassphrase("wrong passphrase or tampered keystore") from exc
    try:
        state = KeystoreState.model_validate_json(plain)
    except ValidationError as exc:
        raise KeystoreError(f"keystore content is invalid: {exc}") from exc
    return key, salt, params, state


def _acquire_lock(target: Path) -> int | None:
    """An advisory ``flock`` beside the file; platforms without it go unlocked."""
    if sys.platform == "win32":
        return None
    import fcntl

    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target.with_name(target.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise KeystoreInUse(f"{target} is open in another process") from exc
    return fd


def _release_lock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor drops the flock


def _derive(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    if not passphrase:
        raise KeystoreError("an empty passphrase would not protect anything")
    return nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE,
        passphrase.encode("utf-8"),
        salt,
        opslimit=params.opslimit,
        memlimit=params.memlimit,
    )


def _parse_header(document: Any) -> tuple[bytes, KdfParams, bytes]:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("not a Haven keystore")
    kdf = document["kdf"]
    if kdf.get("alg") != "argon2id":
        raise ValueError(f"unsupported kdf {kdf.get('alg')!r}")
    params = KdfParams(int(kdf["opslimit"]), int(kdf["memlimit"]))
    return b64d(kdf["salt"]), params, b64d(document["box"])


def _atomic_write(path: Path, data: bytes) -> None:
    """0600 from creation (never world-readable, not even briefly), then rename over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_dir(path.parent)


def _shred(path: Path) -> None:
    """Overwrite with random bytes, then delete; a file already gone is fine."""
    with contextlib.suppress(FileNotFoundError):
        size = path.stat().st_size
        with path.open("r+b") as handle:
            handle.write(random_bytes(size))
            handle.flush()
            os.fsync(handle.fileno())
        path.unlink()


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; some platforms cannot open directories."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
