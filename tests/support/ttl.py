"""Driving the store's TTL expiry in tests without waiting for its minute-long sweep."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient


async def sweep_ttl(client: AsyncMongoClient[Any]) -> int:
    """One pass of the store's own TTL expiry over every collection (SecantusDB's
    `secantusAdmin.pruneTtl`: the same code its background sweeper runs every 60 s).
    Returns the documents it removed."""
    reply = await client.admin.command("secantusAdmin.pruneTtl")
    return int(reply.get("pruned", reply.get("n", 0)))
