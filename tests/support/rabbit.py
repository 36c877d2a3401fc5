"""Broker administration for tests: force-close this test's connections only."""

from __future__ import annotations

import asyncio
import re
import subprocess

_NAME = re.compile(r'\{"connection_name","([^"]*)"\}')


async def close_connections(prefix: str) -> int:
    """Close every connection whose connection_name starts with `prefix` (a test namespace)."""
    listing = await asyncio.to_thread(
        subprocess.run,
        ["rabbitmqctl", "-q", "list_connections", "--no-table-headers", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
    )
    pids = []
    for line in listing.stdout.splitlines():
        match = _NAME.search(line)
        if match and match.group(1).startswith(prefix):
            pids.append(line.split("\t")[0])
    for pid in pids:
        await asyncio.to_thread(
            subprocess.run,
            ["rabbitmqctl", "close_connection", pid, "test: forced reconnect"],
            capture_output=True,
            check=True,
        )
    return len(pids)
