"""argon2id password hashing off the event loop, with bounded concurrency and queueing.

One hash costs ~100-150 ms of CPU; running them in a small thread pool (libsodium releases
the GIL) keeps WebSockets and message traffic responsive during a burst of logins, and a
bounded wait queue turns an overload into a quick 503 instead of unbounded memory.

The slots are shared fairly: one owner (a client address, IPv6 by /64) holds at most a
quarter of them at once, so a flood from one network cannot lock everyone else out of
logging in (issue 18); its excess gets the same quick 503.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor

import nacl.exceptions
import nacl.pwhash
from prometheus_client import Counter

from shared.errors import UnavailableError

PASSWORD_WORK = Counter(
    "haven_password_hash_operations_total", "argon2id hashes and verifications run", ["operation"]
)

_PARAMS = re.compile(rb"^\$argon2id\$v=\d+\$m=(\d+),t=(\d+),p=\d+\$")


class PasswordHasher:
    def __init__(self, opslimit: int, memlimit_mib: int, workers: int, queue: int) -> None:
        self._opslimit = opslimit
        self._memlimit = memlimit_mib * 1024 * 1024
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pwhash")
        self._slots = asyncio.Semaphore(workers + queue)
        self._share = max(1, (workers + queue) // 4)
        self._held: Tally[str] = Tally()
        self._dummy: bytes | None = None

    async def _run(self, fn: object, *args: object, owner: str | None = None) -> object:
        if self._slots.locked() or (owner is not None and self._held[owner] >= self._share):
            raise UnavailableError("too many password checks in progress")
        if owner is not None:
            self._held[owner] += 1
        try:
            async with self._slots:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._pool, fn, *args)  # type: ignore[arg-type]
        finally:
            if owner is not None:
                self._held[owner] -= 1
                if self._held[owner] <= 0:
                    del self._held[owner]

    def _hash_sync(self, password: str) -> bytes:
        return nacl.pwhash.argon2id.str(
            password.encode(), opslimit=self._opslimit, memlimit=self._memlimit
        )

    @staticmethod
    def _verify_sync(stored: bytes, password: str) -> bool:
        try:
            return bool(nacl.pwhash.argon2id.verify(stored, password.encode()))
        except (nacl.exceptions.InvalidkeyError, nacl.exceptions.CryptoError):
            return False

    async def hash(self, password: str, owner: str | None = None) -> bytes:
        PASSWORD_WORK.labels(operation="hash").inc()
        result = await self._run(self._hash_sync, password, owner=owner)
        assert isinstance(result, bytes)
        return result

    async def verify(self, stored: bytes | None, password: str, owner: str | None = None) -> bool:
        """Constant work whether or not the account exists: unknown handles hit a dummy hash.
        `owner` (the client's address bucket) gets at most its fair share of the pool."""
        PASSWORD_WORK.labels(operation="verify").inc()
        if stored is None:
            if self._dummy is None:
                self._dummy = await self.hash(secrets.token_urlsafe(16), owner)
            await self._run(self._verify_sync, self._dummy, password, owner=owner)
            return False
        return bool(await self._run(self._verify_sync, stored, password, owner=owner))

    def needs_rehash(self, stored: bytes) -> bool:
        match = _PARAMS.match(stored)
        if match is None:
            return True
        memory_kib, time_cost = int(match.group(1)), int(match.group(2))
        return memory_kib * 1024 != self._memlimit or time_cost != self._opslimit

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
