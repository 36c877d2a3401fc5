"""The real broker and MongoDB-wire server for a test session."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tools import broker
from tools.processes import (
    free_port,
    port_open,
    secantus_argv,
    secantus_url,
    spawn,
    stop,
    wait_until,
)


@dataclass(frozen=True)
class Infra:
    amqp_url: str
    mongo_url: str


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


@contextmanager
def session_infra(tmp_dir: str) -> Iterator[Infra]:
    """HAVEN_TEST_* URLs when set; testcontainers when asked and Docker runs; else local."""
    amqp = os.environ.get("HAVEN_TEST_AMQP_URL")
    mongo = os.environ.get("HAVEN_TEST_MONGO_URL")
    if os.environ.get("HAVEN_TEST_CONTAINERS") == "1" and docker_available():
        with _containers() as infra:
            yield Infra(amqp or infra.amqp_url, mongo or infra.mongo_url)
        return
    amqp = amqp or broker.DEFAULT_URL
    broker.ensure(amqp)
    if mongo:
        yield Infra(amqp, mongo)
        return
    with secantus(tmp_dir) as url:
        yield Infra(amqp, url)


@contextmanager
def secantus(tmp_dir: str, storage: str = ":memory:") -> Iterator[str]:
    """A fresh SecantusDB per session: it slows down as its process ages."""
    port = free_port()
    process = spawn(secantus_argv(port, storage), os.environ, Path(tmp_dir) / "secantus.log")
    try:
        wait_until(lambda: port_open(port), 60, "SecantusDB")
        yield secantus_url(port)
    finally:
        if storage == ":memory:":
            process.kill()  # nothing to flush; a graceful stop takes seconds
            process.wait()
        else:
            stop(process)


@contextmanager
def _containers() -> Iterator[Infra]:
    from testcontainers.mongodb import MongoDbContainer
    from testcontainers.rabbitmq import RabbitMqContainer

    with RabbitMqContainer("rabbitmq:4-management") as rabbit, MongoDbContainer("mongo:8") as mongo:
        params = rabbit.get_connection_params()
        amqp = f"amqp://guest:guest@{params.host}:{params.port}/"
        yield Infra(amqp, mongo.get_connection_url())
