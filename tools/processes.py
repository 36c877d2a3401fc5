"""Child processes that die with their parent and stop in order: used by devstack and tests."""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGTERM to the child if its parent dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    os.setsid()


def spawn(
    argv: Sequence[str], env: Mapping[str, str], log_path: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a child in its own session; output to a file, or inherited when none is given."""
    out = open(log_path, "ab") if log_path else None  # noqa: SIM115 - closed by the child's exit
    return subprocess.Popen(
        list(argv),
        env=dict(env),
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        preexec_fn=_die_with_parent,
    )


def stop(process: subprocess.Popen[bytes], grace: float = 15.0) -> int:
    """SIGTERM, wait, then SIGKILL: never leave a process behind."""
    return stop_all([process], grace)[0]


def stop_all(processes: Sequence[subprocess.Popen[bytes]], grace: float = 15.0) -> list[int]:
    """`stop` for several at once: SIGTERM to each, then wait for all within one grace
    period (their shutdowns overlap instead of queueing); their exit codes, in order."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return [process.returncode for process in processes]


_HANDED_OUT: set[int] = set()
# (index, count): this process picks ports in slice `index` of `count` equal slices only, so
# that processes choosing at the same time (parallel test workers) never pick the same one.
_SLICE = [0, 1]


def share_ports(index: int, count: int) -> None:
    """Pick ports from slice `index` of `count` from now on (one slice per test worker)."""
    if not 0 <= index < count:
        raise ValueError(f"slice {index} of {count}")
    _SLICE[:] = [index, count]


def free_port() -> int:
    """A free port below the kernel's ephemeral range, so outgoing connections never take it
    between our check and the service binding it; never the same one twice in this process
    (several are chosen before any service binds them), nor one of another process's slice
    (`share_ports`)."""
    low, _ = _ephemeral_range()
    index, count = _SLICE
    width = (low - 20000) // count
    for _ in range(200):
        port = 20000 + index * width + secrets.randbelow(width) if width > 1000 else 0
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen: int = sock.getsockname()[1]
        _HANDED_OUT.add(chosen)
        return chosen
    raise OSError("no free port found")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), 0.5):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - local http
            return bool(response.status == 200)
    except OSError:
        return False


def wait_until(predicate: object, timeout: float, what: str) -> None:
    """Until `predicate()` holds, asked every 0.1 s (a refused connection, what it mostly sees
    meanwhile, is cheap; a service counts as ready sooner)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


def secantus_url(port: int) -> str:
    """The embedded store's URL, without retryable writes.

    SecantusDB keeps every retryable write's reply for 30 minutes (up to 10,000) and scans
    that list on each write, then sorts it once full: a store that took ~10k writes spends
    milliseconds of CPU per write on bookkeeping (bench/ measured it, docs/PERFORMANCE.md).
    On loopback to a single local process a driver retry has nothing to recover from, and
    every Haven write is idempotent at the next level up anyway (unique ids, retried
    handlers). A real MongoDB keeps the driver's default: its URL comes from the operator.
    """
    return f"mongodb://127.0.0.1:{port}/?retryWrites=false"


def secantus_argv(port: int, storage: str) -> list[str]:
    """A standalone server: as a single-node replica set it also writes every write to its
    oplog, which only change streams and transactions read, and Haven uses neither (a fifth
    of the store's CPU per write, measured). A real MongoDB's topology is the operator's."""
    exe = Path(sys.executable).with_name("secantusd-py")
    return [
        str(exe),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--storage-path",
        storage,
        "--standalone",
        "--log-level",
        "WARNING",
    ]
