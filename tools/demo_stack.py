"""A throw-away stack for `make demo` when none runs: broker, a fresh store, the services."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from services.gateway.security.tokens import generate_pem
from tools import broker
from tools.namespace import drop_namespace
from tools.processes import (
    free_port,
    http_ok,
    port_open,
    secantus_argv,
    secantus_url,
    spawn,
    stop,
    wait_until,
)

SERVICES = ("gateway", "messaging", "notification")


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
    ports, stopped and removed afterwards."""
    started_broker = broker.ensure(os.environ.get("HAVEN_AMQP_URL", broker.DEFAULT_URL))
    children = []
    with tempfile.TemporaryDirectory(prefix="haven-demo-") as directory:
        data = Path(directory)
        try:
            mongo_port = free_port()
            children.append(
                spawn(secantus_argv(mongo_port, str(data)), os.environ, data / "db.log")
            )
            wait_until(lambda: port_open(mongo_port), 60, "SecantusDB")
            env = _service_env(data, mongo_port)
            for name in SERVICES:
                log = data / f"{name}.log"
                children.append(spawn([sys.executable, "-m", f"services.{name}"], env, log))
            ports = [env[f"HAVEN_{name.upper()}_PORT"] for name in SERVICES]
            wait_until(
                lambda: all(http_ok(f"http://127.0.0.1:{p}/readyz") for p in ports), 60, "services"
            )
            yield Target(
                f"http://127.0.0.1:{env['HAVEN_GATEWAY_PORT']}",
                env["HAVEN_MONGO_URL"],
                env["HAVEN_DB_PREFIX"],
                started=True,
            )
        finally:
            for child in reversed(children):
                stop(child)
            if children and "env" in locals():
                asyncio.run(drop_namespace(env["HAVEN_AMQP_URL"], env["HAVEN_NAMESPACE"], 2))
            if started_broker:
                broker.stop_local()


def _service_env(data: Path, mongo_port: int) -> dict[str, str]:
    key = data / "token_signing_key"
    key.write_bytes(generate_pem())
    tag = uuid.uuid4().hex[:8]
    return {
        **os.environ,
        "HAVEN_AMQP_URL": os.environ.get("HAVEN_AMQP_URL", broker.DEFAULT_URL),
        "HAVEN_MONGO_URL": secantus_url(mongo_port),
        "HAVEN_NAMESPACE": f"demo{tag}.",
        "HAVEN_DB_PREFIX": f"demo{tag}",
        "HAVEN_SIGNING_KEY_FILE": str(key),
        "HAVEN_COMMAND_SHARDS": "2",
        "HAVEN_LOG_LEVEL": "warning",
        **{f"HAVEN_{name.upper()}_PORT": str(free_port()) for name in SERVICES},
        "HAVEN_GATEWAY_OPS_PORT": str(free_port()),
    }
