"""Operator-configured crisis resources: public, and attached to every urgent-send answer."""

from __future__ import annotations

import time
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from shared.mongo import Document

CACHE_SECONDS = 10.0
DEFAULT_RESOURCES: list[dict[str, str]] = [
    {
        "name": "Emergency services",
        "contact": "112 / 911 / your local emergency number",
        "description": "If you are in immediate danger, call your local emergency number now.",
        "region": "international",
    }
]


class CrisisResources:
    """Read on every urgent send: cached briefly (every replica sees an update within seconds),
    and never unavailable — when the database fails, the last known list (or the default)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["config"]
        self._cached: list[dict[str, Any]] = DEFAULT_RESOURCES
        self._read_at = -CACHE_SECONDS

    async def current(self) -> list[dict[str, Any]]:
        if time.monotonic() - self._read_at < CACHE_SECONDS:
            return self._cached
        try:
            doc = await self._c.find_one({"_id": "crisis_resources"})
        except PyMongoError:
            return self._cached
        self._cached = list(doc["resources"]) if doc else DEFAULT_RESOURCES
        self._read_at = time.monotonic()
        return self._cached

    async def replace(self, resources: list[dict[str, Any]]) -> None:
        await self._c.update_one(
            {"_id": "crisis_resources"}, {"$set": {"resources": resources}}, upsert=True
        )
        self._cached, self._read_at = resources, time.monotonic()
