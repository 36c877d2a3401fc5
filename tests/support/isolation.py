"""Per-test (or per-module) names on the shared broker and store, their removal, and waiting
for a document to appear in the store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

from pymongo import AsyncMongoClient

from shared.topology import Topology
from tools.namespace import drop_namespace

COMMAND_SHARDS = 2
PUSH_RETRY_DELAYS = "HAVEN_PUSH_RETRY_DELAYS"


def new_isolation() -> tuple[str, str]:
    """A unique AMQP namespace and database prefix."""
    tag = uuid.uuid4().hex[:10]
    return f"t{tag}.", f"t{tag}"


def topology(namespace: str) -> Topology:
    return Topology(namespace=namespace, command_shards=COMMAND_SHARDS)


async def drop_topology(
    amqp_url: str, namespace: str, env: Mapping[str, str] | None = None
) -> None:
    """Delete the namespace's queues and exchanges (`env`: the stack's environment, which may
    name other push retry delays)."""
    delays = (env or {}).get(PUSH_RETRY_DELAYS)
    await drop_namespace(amqp_url, namespace, COMMAND_SHARDS, delays)


async def drop_databases(client: AsyncMongoClient, prefix: str) -> None:
    for name in await client.list_database_names():
        if name.startswith(f"{prefix}_"):
            await client.drop_database(name)


async def wait_for_document(
    client: AsyncMongoClient,
    database: str,
    collection: str,
    query: dict[str, Any],
    timeout: float = 10,
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        document = await client[database][collection].find_one(query)
        if document is not None:
            return dict(document)
        await asyncio.sleep(0.1)
    raise AssertionError(f"{database}.{collection} never got {query}")
