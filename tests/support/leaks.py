"""Which asyncio tasks did a test start, and are any of them still running after its teardown?

Every task created on the session's event loop is labelled with the `OWNER` context variable
of the code that created it, and tasks inherit their creator's context. `tests/conftest.py`
sets `OWNER` to the test's node id for the whole test, and to the fixture's scope while a
module- or session-scoped fixture is set up (those tasks outlive the test on purpose, and so
do the tasks they start later). After a test's function-scoped fixtures are torn down, its
own tasks must all be done.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from typing import Any
from weakref import WeakKeyDictionary

OWNER: contextvars.ContextVar[str | None] = contextvars.ContextVar("test_task_owner", default=None)
SETTLE_SECONDS = 1.0  # cancelled tasks get this long to unwind before they count as leaked

_owners: WeakKeyDictionary[asyncio.Task[Any], str] = WeakKeyDictionary()


def _factory(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, Any] | Generator[Any, None, Any],
    **kwargs: Any,
) -> asyncio.Task[Any]:
    task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
    context: contextvars.Context | None = kwargs.get("context")
    owner = context.get(OWNER) if context is not None else OWNER.get()
    if owner is not None:
        _owners[task] = owner
    return task


def track(loop: asyncio.AbstractEventLoop) -> None:
    """Label every task created on `loop` from now on."""
    loop.set_task_factory(_factory)


def untrack(loop: asyncio.AbstractEventLoop) -> None:
    if loop.get_task_factory() is _factory:
        loop.set_task_factory(None)


def running(owner: str) -> list[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return [t for t, o in list(_owners.items()) if o == owner and not t.done() and t is not current]


async def leaked(owner: str) -> list[str]:
    """Tasks of `owner` still running once a moment has passed; they are cancelled."""
    deadline = asyncio.get_running_loop().time() + SETTLE_SECONDS
    while (tasks := running(owner)) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    for task in tasks:
        task.cancel()
    return [f"{t.get_name()}: {t.get_coro()!r}" for t in tasks]
