"""The suite on several pytest-xdist workers (`make test` runs `pytest -n N`).

Tests are already isolated by name (a unique AMQP namespace and database prefix per test or
module), so the workers share the one broker. What each worker has of its own: its session —
SecantusDB (`infra`), Chromium (`browser`), temporary directories — and a slice of the port
range (`tools.processes.share_ports`), so two workers never pick the same free port for the
services they start. A test module runs whole on one worker, so the stack it shares among its
tests (`SHARED_STACK`, the browser modules' `web_stack`) is started once. The modules are
handed out slowest kind first (browser, e2e, integration, unit): a long module started last
would leave the other workers idle at the end.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tools.processes import share_ports

# The order the kinds are handed out in (tests/<kind>/…): the slowest first.
KIND_ORDER = ("browser", "e2e", "integration", "unit")


def worker() -> tuple[int, int] | None:
    """(index, count) of this pytest-xdist worker; None outside of one."""
    name = os.environ.get("PYTEST_XDIST_WORKER")
    if not name:
        return None
    return int(name.removeprefix("gw")), int(os.environ["PYTEST_XDIST_WORKER_COUNT"])


def configure_worker() -> None:
    """Called once per worker process, before any test: its slice of the port range."""
    found = worker()
    if found is not None:
        share_ports(*found)


def _kind_rank(item: pytest.Item, tests: Any) -> int:
    kind = item.path.relative_to(tests).parts[0]
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def order_for_workers(items: list[pytest.Item], tests: Any) -> None:
    """On a worker, the collection in the order modules are handed out (every worker sorts
    alike, so their collections stay identical, as xdist requires); a module's tests keep
    their order. Outside of xdist the order is pytest's."""
    if worker() is not None:
        items.sort(key=lambda item: _kind_rank(item, tests))


def make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Whole modules per worker, in collection order (not xdist's largest-module-first)."""
    from xdist.scheduler import LoadFileScheduling

    config.option.loadscopereorder = False
    return LoadFileScheduling(config, log)
