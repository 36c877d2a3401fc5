"""Run the three real services as processes, the way `make up` does: for the e2e tests,
`make demo` and `make bench` alike."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

from services.gateway.security.tokens import generate_pem
from tools.processes import free_port, http_ok, spawn, stop_all, wait_until

SERVICES = ("gateway", "messaging", "notification")
LAX_RATES = (
    "SEND",
    "INVITES",
    "KX",
    "DEVICE_OPS",
    "REGISTER",
    "WS_FRAMES",
    "PAUSE",
    "DELETE",
    "LOGIN_ACCOUNT",
    "LOGIN_ADDRESS",
)


@dataclass
class Stack:
    """Running services with their ports, environment and log files."""

    env: dict[str, str]
    log_dir: Path
    processes: dict[str, Popen[bytes]] = field(default_factory=dict)
    # Extra replicas started with `start_extra`: process name -> its own health port.
    extra_ports: dict[str, str] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.env['HAVEN_GATEWAY_PORT']}"

    @property
    def ops_url(self) -> str:
        return f"http://127.0.0.1:{self.env['HAVEN_GATEWAY_OPS_PORT']}"

    def health_url(self, service: str) -> str:
        port = self.extra_ports.get(service) or self.env[f"HAVEN_{service.upper()}_PORT"]
        return f"http://127.0.0.1:{port}"

    def start(self, *names: str) -> None:
        for name in names or SERVICES:
            self.processes[name] = spawn(
                [sys.executable, "-m", f"services.{name}"], self.env, self.log_path(name)
            )

    def start_extra(self, service: str, suffix: str) -> str:
        """Another replica of `service`, as process (and log) `service-suffix`, on ports of its
        own (every `HAVEN_<SERVICE>_*PORT`); `health_url(name)` is its main port."""
        name = f"{service}-{suffix}"
        prefix = f"HAVEN_{service.upper()}_"
        ports = {
            k: str(free_port()) for k in self.env if k.startswith(prefix) and k.endswith("PORT")
        }
        self.extra_ports[name] = ports[f"{prefix}PORT"]
        env = {**self.env, **ports}
        self.processes[name] = spawn(
            [sys.executable, "-m", f"services.{service}"], env, self.log_path(name)
        )
        return name

    def stop(self, *names: str) -> dict[str, int]:
        """SIGTERM to the named processes (all when none are named) at once; their exit codes."""
        chosen = names or tuple(self.processes)
        codes = stop_all([self.processes.pop(name) for name in chosen])
        return dict(zip(chosen, codes, strict=True))

    def wait_ready(self, timeout: float = 30.0) -> None:
        urls = [f"{self.health_url(name)}/readyz" for name in self.processes]

        def ready() -> bool:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    tail = self.log_path(name).read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")
            return all(http_ok(url) for url in urls)

        wait_until(ready, timeout, "services")

    def log_path(self, service: str) -> Path:
        return self.log_dir / f"{service}.log"

    def log_lines(self, service: str) -> list[dict[str, object]]:
        """Parsed JSON log lines of a service (non-JSON lines are kept under `raw`)."""
        path = self.log_path(service)
        if not path.exists():
            return []
        lines = []
        for raw in path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                lines.append({"raw": raw})
        return lines

    def wait_for_log(
        self, service: str, timeout: float = 10.0, **match: object
    ) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_lines(service):
                if all(line.get(k) == v for k, v in match.items()):
                    return line
            time.sleep(0.1)
        raise AssertionError(f"no log line {match} from {service} within {timeout}s")


BOOTSTRAP_OPERATOR = ("root", "operator-password-1")
TEST_CRISIS_RESOURCE = {
    "name": "Test crisis line",
    "contact": "000 000",
    "description": "A resource of the test deployment.",
    "region": "test",
}


def service_env(
    amqp_url: str, mongo_url: str, namespace: str, db_prefix: str, secrets_dir: Path
) -> dict[str, str]:
    """The three services on free ports, in a namespace and databases of their own, with a
    fresh signing key in `secrets_dir`: what tests, `make demo` and `make bench` all start."""
    key_file = secrets_dir / "token_signing_key"
    if not key_file.exists():
        key_file.write_bytes(generate_pem())
    receipt_key_file = secrets_dir / "receipt_signing_key"
    if not receipt_key_file.exists():
        receipt_key_file.write_bytes(generate_pem())
    return {
        **os.environ,
        "HAVEN_AMQP_URL": amqp_url,
        "HAVEN_MONGO_URL": mongo_url,
        "HAVEN_NAMESPACE": namespace,
        "HAVEN_DB_PREFIX": db_prefix,
        "HAVEN_COMMAND_SHARDS": "2",
        "HAVEN_GATEWAY_PORT": str(free_port()),
        "HAVEN_GATEWAY_OPS_PORT": str(free_port()),
        "HAVEN_MESSAGING_PORT": str(free_port()),
        "HAVEN_NOTIFICATION_PORT": str(free_port()),
        "HAVEN_LOG_LEVEL": "info",
        "HAVEN_SIGNING_KEY_FILE": str(key_file),
        "HAVEN_RECEIPT_KEY_FILE": str(receipt_key_file),
        "PYTHONUNBUFFERED": "1",
    }


def stack_env(
    amqp_url: str, mongo_url: str, namespace: str, db_prefix: str, secrets_dir: Path
) -> dict[str, str]:
    """`service_env` for tests: a bootstrap operator, crisis resources, cheap hashing, lax rates."""
    # Client invites need crisis resources; tests of their absence unset this variable.
    resources_file = secrets_dir / "crisis-resources.json"
    resources_file.write_text(json.dumps({"resources": [TEST_CRISIS_RESOURCE]}))
    return {
        **service_env(amqp_url, mongo_url, namespace, db_prefix, secrets_dir),
        "HAVEN_CRISIS_RESOURCES_FILE": str(resources_file),
        "HAVEN_BOOTSTRAP_OPERATOR_HANDLE": BOOTSTRAP_OPERATOR[0],
        "HAVEN_BOOTSTRAP_OPERATOR_PASSWORD": BOOTSTRAP_OPERATOR[1],
        # Behaviour, not hashing cost, is under test: the cheapest argon2id the settings allow.
        "HAVEN_PWHASH_OPSLIMIT": "1",
        "HAVEN_PWHASH_MEMLIMIT_MIB": "8",
        # Many tests drive one address and a few accounts hard; the rate-limit tests set
        # their own (tests/integration/api/test_rate_limits.py).
        **{f"HAVEN_RATE_{name}": "100000/minute,10000" for name in LAX_RATES},
    }


@contextmanager
def running_stack(env: dict[str, str], log_dir: Path, *names: str) -> Iterator[Stack]:
    stack = Stack(env=env, log_dir=log_dir)
    stack.start(*names)
    try:
        stack.wait_ready()
        yield stack
    finally:
        stack.stop()
