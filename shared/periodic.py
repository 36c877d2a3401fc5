"""Work a service does in the background for its whole life: a named task started once
start-up finished (indexes made, broker connected) and cancelled at shutdown, and the loop of
a periodic sweep that outlives a failed round."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web

from shared.lifecycle import CleanupCtx, started_key

log = structlog.get_logger(__name__)


async def sweep_forever(
    sweep: Callable[[], Awaitable[dict[str, int]]],
    *,
    done: str,
    failed: str,
    errors: tuple[type[Exception], ...],
    pause: float,
) -> None:
    """Run `sweep` every `pause` seconds for the process's life; log what it did (`done`, when
    anything), and survive what the store or a use case raises (`failed`) to try again."""
    while True:
        try:
            counts = await sweep()
            if any(counts.values()):
                log.info(done, **counts)
        except errors as error:
            log.warning(failed, reason=type(error).__name__)
        await asyncio.sleep(pause)


def background(name: str, body: Callable[[web.Application], Awaitable[None]]) -> CleanupCtx:
    """A named task that starts once start-up finished and is cancelled at shutdown."""

    async def run(app: web.Application) -> None:
        await app[started_key].wait()
        await body(app)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(run(app), name=name)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    ctx.__name__ = f"{name.replace('-', '_')}_ctx"
    return ctx
