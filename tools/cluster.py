"""A local three-node RabbitMQ cluster of the machine's own `rabbitmq-server`, for the cluster
tests (tests/cluster/) and for trying failover by hand (`make cluster` / `make cluster-stop`).

Each node has its own name (`hvc1@localhost`…), AMQP port (5701…), distribution port (25701…),
data, log and pid files under one base directory (`HAVEN_CLUSTER_DIR`, default
`/tmp/haven-cluster`), no plugins, and an Erlang cookie of its own — a fresh random one in
`<base>/home/.erlang.cookie` (mode 0400), which the nodes and the CLI read through `HOME`. So
it never touches a broker already running on 5672, nor reads its cookie. Nodes 2 and 3 join
node 1 (`join_cluster`); a node killed and started again rejoins by itself (its data
directory remembers the cluster).

    python -m tools.cluster start | stop | status | url

`start` returns once all three nodes run and `cluster_status` lists three running nodes;
`url` prints the multi-node `HAVEN_AMQP_URL` of the cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tools.processes import port_open

SCRIPTS = Path(os.environ.get("HAVEN_RABBITMQ_SCRIPTS", "/usr/lib/rabbitmq/bin"))
DEFAULT_DIR = Path(
    os.environ.get("HAVEN_CLUSTER_DIR") or Path(tempfile.gettempdir(), "haven-cluster")
)
FIRST_PORT = int(os.environ.get("HAVEN_CLUSTER_PORT", "5701"))
SIZE = 3
NAME = "hvc"
HOST = "localhost"
START_TIMEOUT = 120.0
# Erlang distribution over loopback only; epmd (shared with any other local node) likewise.
ERL_FLAGS = "-kernel inet_dist_use_interface {127,0,0,1}"
CONFIG = """\
# Written by tools/cluster.py: a test node, on loopback only.
listeners.tcp.default = 127.0.0.1:{port}
loopback_users.guest = true
cluster_partition_handling = pause_minority
log.console = false
log.file.level = info
"""


@dataclass(frozen=True)
class Node:
    """One node of the local cluster: where it listens and keeps its files."""

    index: int  # 1-based
    base: Path

    @property
    def name(self) -> str:
        return f"{NAME}{self.index}@{HOST}"

    @property
    def short(self) -> str:
        return f"{NAME}{self.index}"

    @property
    def port(self) -> int:
        return FIRST_PORT + self.index - 1

    @property
    def dist_port(self) -> int:
        return self.port + 20000

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def pid_file(self) -> Path:
        return self.base / f"{self.short}.pid"

    @property
    def config_file(self) -> Path:
        return self.base / f"{self.short}.conf"

    @property
    def console_log(self) -> Path:
        return self.base / "log" / f"{self.short}.console.log"

    def pid(self) -> int | None:
        """The node's Erlang VM, if its pid file names a live process."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid


class Cluster:
    """Start, inspect, kill and stop the local cluster's nodes."""

    def __init__(self, base: Path = DEFAULT_DIR, size: int = SIZE) -> None:
        self.base = base
        self.nodes = [Node(index, base) for index in range(1, size + 1)]

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def url(self) -> str:
        """`HAVEN_AMQP_URL` naming every node (docs/deploy.md: several broker nodes)."""
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if name in (node.name, node.short))

    # --- environment ---------------------------------------------------------------------

    def _prepare(self) -> None:
        for directory in (self.base, self.home, self.base / "mnesia", self.base / "log"):
            directory.mkdir(parents=True, exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(20).upper())
            cookie.chmod(0o400)
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq-env.conf").write_text("# none: tools/cluster.py sets it all\n")
        for node in self.nodes:
            node.config_file.write_text(CONFIG.format(port=node.port))

    def env(self, node: Node | None = None) -> dict[str, str]:
        """The environment of a node (or, without one, of the CLI tools)."""
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))},
            "HOME": str(self.home),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_FLAGS": ERL_FLAGS,
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
        }
        if node is not None:
            env |= {
                "RABBITMQ_NODENAME": node.name,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(node.port),
                "RABBITMQ_DIST_PORT": str(node.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.base / "log"),
                "RABBITMQ_PID_FILE": str(node.pid_file),
                "RABBITMQ_CONFIG_FILE": str(node.config_file),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.base / "advanced.config"),
            }
        return env

    def ctl(
        self, node: Node, *args: str, tool: str = "rabbitmqctl", timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a CLI tool against `node` with the cluster's cookie."""
        return subprocess.run(
            [str(SCRIPTS / tool), "-n", node.name, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    # --- one node ----------------------------------------------------------------------

    def start_node(self, node: Node) -> None:
        """Boot `node` in the background (its own session: it outlives this process)."""
        if node.pid() is not None:
            return
        self._prepare()
        log = open(node.console_log, "ab")  # noqa: SIM115 - the node's own stdout from now on
        subprocess.Popen(
            [str(SCRIPTS / "rabbitmq-server")],
            env=self.env(node),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def wait_node(self, node: Node, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node.pid() is not None and port_open(node.port):
                booted = self.ctl(node, "-q", "await_startup", timeout=deadline - time.monotonic())
                if booted.returncode == 0:
                    return
            time.sleep(0.5)
        tail = node.console_log.read_text(errors="replace")[-2000:]
        raise TimeoutError(f"{node.name} did not start within {timeout:.0f}s:\n{tail}")

    def kill(self, node: Node) -> None:
        """`kill -9` the node's VM: no goodbye to its peers or its clients."""
        pid = node.pid()
        if pid is None:
            raise RuntimeError(f"{node.name} is not running")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while node.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop_node(self, node: Node, timeout: float = 60.0) -> None:
        pid = node.pid()
        if pid is None:
            return
        self.ctl(node, "stop", str(node.pid_file), timeout=timeout)
        deadline = time.monotonic() + timeout
        while node.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        if node.pid() is not None:
            os.kill(pid, signal.SIGKILL)

    # --- the cluster -------------------------------------------------------------------

    def status(self, via: Node | None = None) -> dict[str, list[str]]:
        """`cluster_status` as seen by `via` (default: the first running node): its disc and
        running nodes; empty lists when no node answers."""
        candidates = [via] if via is not None else [n for n in self.nodes if n.pid() is not None]
        for node in candidates:
            answer = self.ctl(node, "cluster_status", "--formatter", "json", timeout=30)
            if answer.returncode == 0:
                data = json.loads(answer.stdout)
                return {
                    "disk_nodes": sorted(data.get("disk_nodes", [])),
                    "running_nodes": sorted(data.get("running_nodes", [])),
                }
        return {"disk_nodes": [], "running_nodes": []}

    def running_nodes(self) -> list[str]:
        return self.status()["running_nodes"]

    def start(self, timeout: float = START_TIMEOUT) -> bool:
        """Bring every node up and joined; True if this call started any node."""
        if shutil.which(str(SCRIPTS / "rabbitmq-server")) is None:
            raise SystemExit(f"no rabbitmq-server in {SCRIPTS} (HAVEN_RABBITMQ_SCRIPTS)")
        started = [node for node in self.nodes if node.pid() is None]
        if not started and self.joined():
            return False  # `make cluster` already runs it
        for node in started:
            self.start_node(node)
        for node in self.nodes:
            self.wait_node(node, timeout)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            if first.name not in self.status(node)["disk_nodes"]:
                self._join(node, first)
        self.wait_joined(timeout)
        return bool(started)

    def _join(self, node: Node, first: Node) -> None:
        for step in (("stop_app",), ("join_cluster", first.name), ("start_app",)):
            done = self.ctl(node, *step)
            if done.returncode != 0:
                raise RuntimeError(f"{node.name}: {' '.join(step)} failed: {done.stderr.strip()}")

    def joined(self) -> bool:
        """Every node's VM alive and listening, and `cluster_status` lists all of them as
        running (a node is listed once its `rabbit` application runs)."""
        if not all(node.pid() is not None and port_open(node.port) for node in self.nodes):
            return False
        return self.running_nodes() == sorted(node.name for node in self.nodes)

    def wait_joined(self, timeout: float = START_TIMEOUT) -> None:
        """The readiness gate: every node running, and the cluster sees all of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.joined():
                return
            time.sleep(0.5)
        want = sorted(node.name for node in self.nodes)
        raise TimeoutError(f"the cluster did not show {want} running within {timeout:.0f}s")

    def stop(self) -> None:
        """Stop the nodes, the last one first (a node stopped last restarts first cleanly)."""
        for node in reversed(self.nodes):
            self.stop_node(node)

    def destroy(self) -> None:
        """Stop and delete every file of the cluster."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def quorum_leaders(self, vhost: str = "/") -> Mapping[str, str]:
        """Quorum queue name -> the node leading it."""
        listed = self.ctl(
            self.nodes_up()[0],
            "list_queues",
            "-p",
            vhost,
            "name",
            "type",
            "leader",
            "--formatter",
            "json",
        )
        if listed.returncode != 0:
            raise RuntimeError(f"list_queues failed: {listed.stderr.strip()}")
        return {
            row["name"]: row["leader"]
            for row in json.loads(listed.stdout)
            if row.get("type") == "quorum" and row.get("leader")
        }

    def quorum_members(self, vhost: str = "/") -> Mapping[str, list[str]]:
        """Quorum queue name -> its member nodes."""
        listed = self.ctl(
            self.nodes_up()[0], "list_queues", "-p", vhost, "name", "type", "members",
            "--formatter", "json",
        )  # fmt: skip
        if listed.returncode != 0:
            raise RuntimeError(f"list_queues failed: {listed.stderr.strip()}")
        return {
            row["name"]: sorted(row["members"])
            for row in json.loads(listed.stdout)
            if row.get("type") == "quorum"
        }

    def nodes_up(self) -> list[Node]:
        return [node for node in self.nodes if node.pid() is not None]

    def connections(self) -> dict[str, str]:
        """Client connection name -> the node it is connected to (by the node's AMQP port in
        the connection's own name, ``client:port -> server:port``)."""
        by_port = {node.port: node.name for node in self.nodes}
        listed = self.ctl(
            self.nodes_up()[0], "list_connections", "name", "client_properties",
            "--formatter", "json", timeout=30,
        )  # fmt: skip
        if listed.returncode != 0:
            raise RuntimeError(f"list_connections failed: {listed.stderr.strip()}")
        found = {}
        for row in json.loads(listed.stdout):
            name = _client_property(row.get("client_properties"), "connection_name")
            port = str(row.get("name", "")).rsplit(":", 1)[-1]
            if name is not None and port.isdigit() and int(port) in by_port:
                found[name] = by_port[int(port)]
        return found


def _client_property(properties: object, key: str) -> str | None:
    """rabbitmqctl's JSON renders client properties as [key, type, value] triples."""
    if isinstance(properties, dict):
        value = properties.get(key)
        return value if isinstance(value, str) else None
    if isinstance(properties, list):
        for entry in properties:
            if isinstance(entry, list) and len(entry) == 3 and entry[0] == key:
                return str(entry[2])
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cluster", description=__doc__)
    parser.add_argument("action", choices=("start", "stop", "destroy", "status", "url"))
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="base directory")
    args = parser.parse_args(argv)
    cluster = Cluster(args.dir)
    if args.action == "start":
        began = time.monotonic()
        cluster.start()
        sys.stderr.write(
            f"[cluster] {len(cluster.nodes)} nodes running and joined "
            f"({time.monotonic() - began:.0f}s); HAVEN_AMQP_URL={cluster.url}\n"
        )
    elif args.action == "stop":
        cluster.stop()
        sys.stderr.write("[cluster] stopped\n")
    elif args.action == "destroy":
        cluster.destroy()
        sys.stderr.write(f"[cluster] stopped and removed {args.dir}\n")
    elif args.action == "status":
        print(json.dumps(cluster.status(), indent=2))
    else:
        print(cluster.url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
