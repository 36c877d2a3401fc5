"""What the broker itself says about a namespace's queues and channels (`rabbitmqctl`, run as
root like the test session), and which of them RabbitMQ 4.3 and later would refuse."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r'\{"connection_name","([^"]*)"\}')


@dataclass(frozen=True)
class BrokerQueue:
    name: str
    durable: bool
    exclusive: bool
    auto_delete: bool
    arguments: dict[str, Any]

    def problems(self) -> list[str]:
        """Why RabbitMQ 4.3+ would refuse this queue (empty: it is fine there)."""
        found = []
        if not self.durable and not self.exclusive:
            found.append("non-durable and non-exclusive (transient_nonexcl_queues)")
        if "x-queue-master-locator" in self.arguments:
            found.append("x-queue-master-locator")
        if self.arguments.get("x-queue-type") not in (None, "classic", "quorum", "stream"):
            found.append(f"queue type {self.arguments['x-queue-type']}")
        return found


async def _ctl(*argv: str) -> Any:
    done = await asyncio.to_thread(
        subprocess.run,
        ["rabbitmqctl", "-q", *argv, "--formatter", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout or "[]")


async def queues(prefix: str) -> list[BrokerQueue]:
    rows = await _ctl("list_queues", "name", "durable", "exclusive", "auto_delete", "arguments")
    return [
        BrokerQueue(
            row["name"],
            bool(row["durable"]),
            row["exclusive"] is True,
            bool(row["auto_delete"]),
            {name: value for name, _kind, value in row["arguments"]},
        )
        for row in rows
        if row["name"].startswith(prefix)
    ]


async def channels_with_global_qos(prefix: str) -> list[str]:
    """Channels of the namespace's connections that set a global prefetch (4.3 refuses it)."""
    connections = await asyncio.to_thread(
        subprocess.run,
        ["rabbitmqctl", "-q", "list_connections", "--no-table-headers", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
    )
    ours = set()
    for line in connections.stdout.splitlines():
        match = _NAME.search(line)
        if match and match.group(1).startswith(prefix):
            ours.add(line.split("\t")[0])
    rows = await _ctl("list_channels", "connection", "name", "global_prefetch_count")
    return [
        row["name"]
        for row in rows
        if row["connection"] in ours and int(row["global_prefetch_count"] or 0) != 0
    ]


async def connection_count(prefix: str) -> int:
    connections = await asyncio.to_thread(
        subprocess.run,
        ["rabbitmqctl", "-q", "list_connections", "--no-table-headers", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = (_NAME.search(line) for line in connections.stdout.splitlines())
    return sum(1 for m in names if m and m.group(1).startswith(prefix))
