"""Make sure a RabbitMQ broker answers: use HAVEN_AMQP_URL, else start (or install) the local one.

`python -m tools.broker` exits 0 once a broker answers, 1 with instructions when impossible.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from shared.urls import amqp_nodes

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"


def answers(url: str, timeout: float = 1.0) -> bool:
    """True when something accepts AMQP connections at the host and port of the URL's node (or
    of one of its nodes: HAVEN_AMQP_URL may name several)."""
    for node in amqp_nodes(url):
        parts = urlsplit(node)
        try:
            with socket.create_connection(
                (parts.hostname or "127.0.0.1", parts.port or 5672), timeout
            ):
                return True
        except OSError:
            continue
    return False


def _say(message: str) -> None:
    sys.stderr.write(f"[broker] {message}\n")


def _install_rabbitmq() -> bool:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    _say("rabbitmq-server is not installed; installing it with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=False, env=env)
    done = subprocess.run(
        ["apt-get", "install", "-y", "-q", "rabbitmq-server"], check=False, env=env
    )
    return done.returncode == 0


def ensure(url: str, wait_seconds: float = 90.0) -> bool:
    """Return True if we started the broker ourselves; exit with instructions if we cannot."""
    if answers(url):
        return False
    host = urlsplit(amqp_nodes(url)[0]).hostname or "127.0.0.1"
    if host not in {"127.0.0.1", "localhost", "::1"}:
        _fail(f"no broker answers at {host}; start it or fix HAVEN_AMQP_URL")
    if shutil.which("rabbitmq-server") is None and not _install_rabbitmq():
        _fail(
            "no RabbitMQ answers and rabbitmq-server is not installed. Install it "
            "(Debian/Ubuntu: sudo apt-get install -y rabbitmq-server) or set HAVEN_AMQP_URL."
        )
    _say("starting the local rabbitmq-server")
    subprocess.run(["rabbitmq-server", "-detached"], check=False)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if answers(url) and _broker_booted():
            _say("rabbitmq-server is up")
            return True
        time.sleep(1)
    _fail("rabbitmq-server did not come up in time; see its log in /var/log/rabbitmq/")
    return False


def _broker_booted() -> bool:
    if shutil.which("rabbitmq-diagnostics") is None:
        return True
    probe = subprocess.run(
        ["rabbitmq-diagnostics", "-q", "check_running"], capture_output=True, check=False
    )
    return probe.returncode == 0


def stop_local() -> None:
    subprocess.run(["rabbitmqctl", "stop"], capture_output=True, check=False)


def _fail(message: str) -> None:
    _say(message)
    raise SystemExit(1)


if __name__ == "__main__":
    amqp_url = os.environ.get("HAVEN_AMQP_URL", DEFAULT_URL)
    ensure(amqp_url)
