"""How the keystore touches the disk: an exclusive lock, atomic 0600 writes, shredding."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from haven_client.errors import KeystoreInUse
from haven_crypto.crypto import random_bytes


def acquire_lock(target: Path) -> int | None:
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


def release_lock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor drops the flock


def atomic_write(path: Path, data: bytes) -> None:
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


def shred(path: Path) -> None:
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
