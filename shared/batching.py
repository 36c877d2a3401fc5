"""Concurrent callers' requests, sent as one: one round trip for many handlers.

Each caller still waits for its own part to be answered (and sees its error), so a consumer
that acks its AMQP message after the call returns keeps exactly the guarantee it had with a
request of its own. A round goes out on the next turn of the event loop; whatever arrives while
it is in flight goes in the next one, so rounds grow with load and add no delay when idle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

A = TypeVar("A")
R = TypeVar("R")


class Coalescer(Generic[A, R]):
    """Concurrent calls of one request, merged: `run` gets every waiting caller's argument and
    returns one result per caller, in order; an error reaches every caller of that round.
    A round starts on the next turn of the loop, and whatever arrives while it runs goes in
    the next one."""

    def __init__(self, run: Callable[[list[A]], Awaitable[list[R]]]) -> None:
        self._run = run
        self._pending: list[tuple[A, asyncio.Future[R]]] = []
        self._running: asyncio.Task[None] | None = None

    async def __call__(self, argument: A) -> R:
        result: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((argument, result))
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._rounds())
        return await asyncio.shield(result)

    async def _rounds(self) -> None:
        while self._pending:
            round_, self._pending = self._pending, []
            try:
                results = await self._run([argument for argument, _ in round_])
            except Exception as error:
                for _, result in round_:
                    if not result.done():
                        result.set_exception(error)
            else:
                for (_, result), value in zip(round_, results, strict=True):
                    if not result.done():
                        result.set_result(value)


K = TypeVar("K")
V = TypeVar("V")


class KeyedLookup(Generic[K, V]):
    """Concurrent lookups by key, merged into one: `fetch` gets the union of every waiting
    caller's keys and returns what it found; each caller gets its own keys' part."""

    def __init__(self, fetch: Callable[[set[K]], Awaitable[dict[K, V]]]) -> None:
        self._fetch = fetch
        self._merged: Coalescer[frozenset[K], dict[K, V]] = Coalescer(self._run)

    async def __call__(self, keys: Iterable[K]) -> dict[K, V]:
        wanted = frozenset(keys)
        if not wanted:
            return {}
        return await self._merged(wanted)

    async def _run(self, rounds: list[frozenset[K]]) -> list[dict[K, V]]:
        found = await self._fetch(set().union(*rounds))
        return [{k: found[k] for k in keys if k in found} for keys in rounds]
