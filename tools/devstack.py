"""`make up`: broker, embedded MongoDB-wire store, and the three services in the foreground.

Ctrl-C or SIGTERM stops everything this process started, in reverse order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from services.gateway.security.tokens import generate_pem
from tools import broker
from tools.processes import http_ok, port_open, secantus_argv, secantus_url, spawn, stop, wait_until

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".haven-data"
SERVICES = (
    ("gateway", "HAVEN_GATEWAY_PORT", 8080),
    ("messaging", "HAVEN_MESSAGING_PORT", 8081),
    ("notification", "HAVEN_NOTIFICATION_PORT", 8082),
)
MONGO_PORT = 27017
SIGNING_KEY = DATA / "secrets" / "token_signing_key"
LOGS = DATA / "logs"
RECEIPT_KEY = DATA / "secrets" / "receipt_signing_key"
# Client invites need crisis resources: the local stack starts with the example, which is
# served as none until edited (its "example" line removed), or point HAVEN_CRISIS_RESOURCES_FILE
# at your own; operators can also set them over the API.
CRISIS_EXAMPLE = Path(__file__).resolve().parent.parent / "deploy" / "crisis-resources.example.json"


def say(message: str) -> None:
    sys.stderr.write(f"[haven] {message}\n")
    sys.stderr.flush()


def service_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HAVEN_AMQP_URL", broker.DEFAULT_URL)
    env.setdefault("HAVEN_MONGO_URL", secantus_url(MONGO_PORT))
    env.setdefault("HAVEN_SIGNING_KEY_FILE", str(SIGNING_KEY))
    env.setdefault("HAVEN_RECEIPT_KEY_FILE", str(RECEIPT_KEY))
    env.setdefault("HAVEN_CRISIS_RESOURCES_FILE", str(CRISIS_EXAMPLE))
    return env


def ensure_signing_key() -> None:
    """Local keys shared by the local gateway's restarts (tokens and receipts survive one)."""
    for variable, path, what in (
        ("HAVEN_SIGNING_KEY_FILE", SIGNING_KEY, "token signing key"),
        ("HAVEN_RECEIPT_KEY_FILE", RECEIPT_KEY, "receipt signing key"),
    ):
        if variable in os.environ or path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_bytes(generate_pem())
        path.chmod(0o600)
        say(f"created a {what} in {path}")


def start_store(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    if "HAVEN_MONGO_URL" in os.environ:
        say("using HAVEN_MONGO_URL; not starting the embedded store")
        return
    if port_open(MONGO_PORT):
        say(f"port {MONGO_PORT} is taken: stop what runs there or set HAVEN_MONGO_URL")
        raise SystemExit(1)
    (DATA / "mongo").mkdir(parents=True, exist_ok=True)
    store = spawn(secantus_argv(MONGO_PORT, str(DATA / "mongo")), os.environ, DATA / "mongo.log")
    children.append(("secantus", store))
    wait_until(lambda: port_open(MONGO_PORT), 60, "SecantusDB")
    say(f"SecantusDB on 127.0.0.1:{MONGO_PORT} (data in {DATA / 'mongo'})")


def start_services(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    """The services' JSON logs go to .haven-data/logs/ (HAVEN_UP_LOGS=terminal: here), so
    the few [haven] lines stay readable."""
    env = service_env()
    to_terminal = os.environ.get("HAVEN_UP_LOGS") == "terminal"
    if not to_terminal:
        LOGS.mkdir(parents=True, exist_ok=True)
        say(f"service logs (JSON) go to {LOGS}/NAME.log; HAVEN_UP_LOGS=terminal shows them here")
    for name, _, _ in SERVICES:
        log = None if to_terminal else LOGS / f"{name}.log"
        children.append((name, spawn([sys.executable, "-m", f"services.{name}"], env, log)))


def wait_ready(timeout: float) -> None:
    env = service_env()
    urls = [f"http://127.0.0.1:{env.get(var, str(port))}/readyz" for _, var, port in SERVICES]
    wait_until(lambda: all(http_ok(url) for url in urls), timeout, "services")
    say(f"ready: gateway http://127.0.0.1:{env.get('HAVEN_GATEWAY_PORT', '8080')}")
    say("next, in another terminal: `make demo`, or `.venv/bin/haven-admin login --handle NAME`")
    say(
        f"crisis resources from {env['HAVEN_CRISIS_RESOURCES_FILE']}: client invites wait until"
        " they are real help for your region (edit the file and delete its example line)"
    )


class StopRequestedError(Exception):
    """Raised from the signal handler to leave whatever is waiting."""


def main() -> int:
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise StopRequestedError

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    started_broker = False
    code = 0
    try:
        started_broker = broker.ensure(os.environ.get("HAVEN_AMQP_URL", broker.DEFAULT_URL))
        ensure_signing_key()
        start_store(children)
        start_services(children)
        wait_ready(60)
        while True:
            dead = [name for name, child in children if child.poll() is not None]
            if dead:
                say(f"{', '.join(dead)} exited; stopping everything")
                code = 1
                break
            time.sleep(0.5)
    except StopRequestedError:
        say("stopping")
    except (TimeoutError, SystemExit) as error:
        say(str(error) or "stopping")
        code = 1
    finally:
        stopping = True
        for name, child in reversed(children):
            stop(child)
            say(f"stopped {name}")
        if started_broker:
            broker.stop_local()
            say("stopped the rabbitmq-server this command started")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
