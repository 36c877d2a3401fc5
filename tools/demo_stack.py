"""A throw-away stack for `make demo` when none runs: broker, a fresh store, the services."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tools import broker
from tools.infra import secantus
from tools.namespace import drop_namespace
from tools.processes import http_ok
from tools.stack import running_stack, service_env


@dataclass(frozen=True)
class Target:
    """Where the demo talks to: the gateway, and the store the services write to."""

    server: str
    mongo_url: str
    db_prefix: str
    started: bool


def running_target() -> Target | None:
    """The stack of `make up` (or HAVEN_DEMO_SERVER), when it answers."""
    server = os.environ.get("HAVEN_DEMO_SERVER", "http://127.0.0.1:8080")
    if not http_ok(f"{server}/readyz"):
        return None
    return Target(
        server,
        os.environ.get("HAVEN_MONGO_URL", "mongodb://127.0.0.1:27017"),
        os.environ.get("HAVEN_DB_PREFIX", "haven"),
        started=False,
    )


@contextlib.contextmanager
def own_stack() -> Iterator[Target]:
    """Broker (if needed), SecantusDB in a temporary directory and the three services on free
    ports (tools/stack.py, as the tests start them), stopped and removed afterwards."""
    amqp = os.environ.get("HAVEN_AMQP_URL", broker.DEFAULT_URL)
    started_broker = broker.ensure(amqp)
    tag = uuid.uuid4().hex[:8]
    try:
        with (
            tempfile.TemporaryDirectory(prefix="haven-demo-") as directory,
            secantus(directory, storage=directory) as mongo,
        ):
            env = service_env(amqp, mongo, f"demo{tag}.", f"demo{tag}", Path(directory))
            env["HAVEN_LOG_LEVEL"] = "warning"
            try:
                with running_stack(env, Path(directory)) as stack:
                    yield Target(stack.gateway_url, mongo, env["HAVEN_DB_PREFIX"], started=True)
            finally:
                asyncio.run(drop_namespace(amqp, env["HAVEN_NAMESPACE"], 2))
    finally:
        if started_broker:
            broker.stop_local()
