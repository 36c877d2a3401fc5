"""Run one or more aiohttp applications until SIGTERM/SIGINT, then shut down gracefully."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)

Site = tuple[web.Application, str, int]


async def serve(sites: list[Site], grace: float) -> None:
    """Start every app, wait for a stop signal, then clean up in reverse order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runners: list[web.AppRunner] = []
    try:
        for app, host, port in sites:
            runner = web.AppRunner(
                app, handle_signals=False, access_log=None, shutdown_timeout=grace
            )
            await runner.setup()
            runners.append(runner)
            await web.TCPSite(runner, host, port, reuse_address=True).start()
            log.info("listening", host=host, port=port)
        await stop.wait()
        log.info("shutting_down")
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
    log.info("stopped")


def run(sites: list[Site], grace: float) -> None:
    """On uvloop when it is installed (a faster event loop: docs/PERFORMANCE.md), unless
    HAVEN_EVENT_LOOP=asyncio asks for the standard one.

    Once everything is closed and logged, the start-up heap is frozen: the interpreter's last
    garbage collection would only walk every object once more (a fifth of a service's whole CPU
    time, most of its exit)."""
    _event_loop_runner()(serve(sites, grace))
    gc.freeze()


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, None]], None]:
    if os.environ.get("HAVEN_EVENT_LOOP", "auto") != "asyncio":
        try:
            import uvloop  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            pass
        else:
            return uvloop.run  # type: ignore[no-any-return, unused-ignore]
    return asyncio.run
