"""The stack a bench run measures: started fresh here (and its broker topology dropped after),
or given by URL; its processes' ids, and py-spy sampling them during a workload."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.procstat import find_by_comm, listening_pid
from shared.settings import CommonSettings
from tools import broker
from tools.namespace import drop_namespace
from tools.processes import free_port, port_open, secantus_argv, secantus_url, spawn, wait_until
from tools.stack import running_stack, stack_env

SERVICES = ("gateway", "messaging", "notification", "store", "broker")


@dataclass
class Target:
    gateway_url: str
    amqp_url: str
    mongo_url: str | None
    key_file: Path | None
    gateway_db: str | None
    pids: dict[str, int]
    namespace: str | None = None  # the AMQP namespace of a stack started here (dropped after)


@contextmanager
def profiled(directory: Path | None, pids: dict[str, int], seconds: float) -> Iterator[None]:
    """py-spy (if installed) samples each Python service during the workload: collapsed
    stacks in `directory`, for `python -m bench.profile`."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if directory is None or not Path(spy).exists():
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    argv = [spy, "record", "--nonblocking", "--format", "raw", "-r", "50", "-d", str(int(seconds))]
    running = [
        subprocess.Popen(  # noqa: S603 - our own tool on our own children
            [*argv, "-p", str(pids[name]), "-o", str(directory / name)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("gateway", "messaging", "notification", "store")
        if name in pids
    ]
    try:
        yield
    finally:
        for process in running:
            process.wait(timeout=seconds + 30)


def raise_fd_limit() -> int:
    """Sockets need descriptors: the soft limit up to the hard one (both ends live here)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# The stack runs on the services' own default shard count.
DEFAULT_SHARDS: int = CommonSettings.model_fields["command_shards"].default


@contextmanager
def local_stack(
    tmp: Path, amqp_url: str = broker.DEFAULT_URL, store_ttl_sweep: float | None = None
) -> Iterator[Target]:
    """RabbitMQ (the machine's, or the one at `amqp_url`), a fresh in-memory SecantusDB and the
    three services."""
    broker.ensure(amqp_url)
    port = free_port()
    argv = secantus_argv(port, ":memory:")
    if store_ttl_sweep is not None:  # a diagnostic: bench/store.py
        sweep = f"--ttl-sweep={store_ttl_sweep}"
        argv = [sys.executable, "-m", "bench.store", f"--port={port}", sweep]
    store = spawn(argv, os.environ, tmp / "secantus.log")
    try:
        wait_until(lambda: port_open(port), 60, "SecantusDB")
        mongo = secantus_url(port)
        tag = uuid.uuid4().hex[:8]
        namespace = f"bench{tag}."
        env = stack_env(amqp_url, mongo, namespace, f"bench{tag}", tmp)
        # The services' own defaults (shards, log level), not the test suite's.
        for name in ("HAVEN_COMMAND_SHARDS", "HAVEN_LOG_LEVEL"):
            env.pop(name, None)
        with running_stack(env, tmp) as stack:
            pids = {name: stack.processes[name].pid for name in SERVICES[:3]}
            pids["store"] = store.pid
            # The broker the services use: other nodes (a local cluster's) may run beside it.
            broker_pid = listening_pid(urlsplit(amqp_url).port or 5672)
            beams = find_by_comm("beam.smp")
            if broker_pid is not None or beams:
                pids["broker"] = broker_pid if broker_pid is not None else beams[0]
            yield Target(
                stack.gateway_url,
                amqp_url,
                mongo,
                Path(env["HAVEN_SIGNING_KEY_FILE"]),
                f"bench{tag}_gateway",
                pids,
                namespace,
            )
    finally:
        store.kill()
        store.wait()
        if "namespace" in locals():  # the services are gone: nothing re-declares it
            asyncio.run(drop_namespace(amqp_url, namespace, DEFAULT_SHARDS))
