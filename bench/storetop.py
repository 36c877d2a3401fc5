"""What the store did per delivered message: `top`'s per-collection operation counts and
times (SecantusDB and mongod both answer it), differenced over a workload.

Says which service's round trips cost the store most (the collections tell them apart:
`messages`, `counters`, `retention`, `erased_accounts` are messaging's; `rate_buckets`,
`devices`, `accounts` the gateway's, ...), where CPU per process cannot.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo import AsyncMongoClient

Top = dict[str, dict[str, dict[str, int]]]
SECTIONS = ("queries", "getmore", "insert", "update", "remove", "commands")


async def snapshot(mongo_url: str | None) -> Top | None:
    """The store's `top` counters now, or None when there is no store to ask."""
    if mongo_url is None:
        return None
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, serverSelectionTimeoutMS=3000
    )
    try:
        reply = await asyncio.wait_for(client.admin.command("top"), 10)
    except Exception:  # an optional measure: a store without `top` has none
        return None
    finally:
        await client.close()
    totals = reply.get("totals", {})
    return {ns: v for ns, v in totals.items() if isinstance(v, dict)}


def per_message(before: Top | None, after: Top | None, delivered: int) -> dict[str, Any]:
    """Per collection that moved: operations and store microseconds per delivered message."""
    if before is None or after is None or delivered <= 0:
        return {}
    out: dict[str, Any] = {}
    for ns, sections in sorted(after.items()):
        old = before.get(ns, {})
        ops = {}
        for section in SECTIONS:
            count = sections.get(section, {}).get("count", 0) - old.get(section, {}).get("count", 0)
            if count:
                ops[section] = round(count / delivered, 3)
        total = sections.get("total", {})
        micros = total.get("time", 0) - old.get("total", {}).get("time", 0)
        if ops:
            db, _, collection = ns.partition(".")
            out[f"{db.split('_', 1)[-1]}.{collection}"] = {
                **ops,
                "us": round(micros / delivered, 1),
            }
    return out
