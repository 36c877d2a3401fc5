"""Concurrent callers' writes, sent as one bulk request: one round trip for many handlers.

Each caller still waits for its own write to be acknowledged (and sees its error), so a consumer
that acks its AMQP message after `submit` returns keeps exactly the guarantee it had with a
write of its own. A batch goes out on the next turn of the event loop; whatever arrives while
it is in flight goes in the next one, so batches grow with load and add no delay when idle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class WriteBatcher(Generic[T]):
    def __init__(self, write: Callable[[Sequence[T]], Awaitable[None]], max_batch: int = 256):
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        """Returns once the batch holding `item` was written; raises what that write raised."""
        done = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        await asyncio.shield(done)

    async def _flush(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: len(batch)]
            try:
                await self._write([item for item, _ in batch])
            except Exception as error:  # every caller in the batch sees it and retries
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)


A = TypeVar("A")
R = TypeVar("R")


class Coalescer(Generic[A, R]):
    """Concurrent calls of one request, merged: `run` gets every waiting caller's argument and
    returns one result per caller, in order; an error reaches every caller of that round.
    Same rhythm as WriteBatcher: a round starts on the next turn of the loop, and whatever
    arrives while it runs goes in the next one."""

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
