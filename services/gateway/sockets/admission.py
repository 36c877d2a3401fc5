"""Who may hold a socket open before authenticating: a cap per client address.

Unauthenticated sockets cost a task and a buffer each for up to the 10 s auth window, so
one address cannot park thousands of them. The edge passes an IPv6 client's /64 as its
address (`address_bucket`: it is handed a whole /64 and could rotate through it). The count
is per replica on purpose: it bounds this process's memory, which is what it protects, and
needs no shared state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class PendingSockets:
    def __init__(self, per_address: int) -> None:
        self._per_address = per_address
        self._pending: Counter[str] = Counter()

    @contextmanager
    def admit(self, address: str) -> Iterator[bool]:
        """Yields whether this socket may wait for authentication; counts it while it waits."""
        if self._pending[address] >= self._per_address:
            yield False
            return
        self._pending[address] += 1
        try:
            yield True
        finally:
            self._pending[address] -= 1
            if self._pending[address] <= 0:
                del self._pending[address]
