"""Operator-configured crisis resources: public, and attached to every urgent-send answer."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.mongo import Document

DEFAULT_RESOURCES: list[dict[str, str]] = [
    {
        "name": "Emergency services",
        "contact": "112 / 911 / your local emergency number",
        "description": "If you are in immediate danger, call your local emergency number now.",
        "region": "international",
    }
]


class CrisisResources:
    """Read on every urgent send, so a short in-process cache keeps it cheap."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["config"]
        self._cached: list[dict[str, Any]] | None = None

    async def current(self) -> list[dict[str, Any]]:
        if self._cached is None:
            doc = await self._c.find_one({"_id": "crisis_resources"})
            self._cached = list(doc["resources"]) if doc else DEFAULT_RESOURCES
        return self._cached

    async def replace(self, resources: list[dict[str, Any]]) -> None:
        await self._c.update_one(
            {"_id": "crisis_resources"}, {"$set": {"resources": resources}}, upsert=True
        )
        self._cached = resources

    def forget(self) -> None:
        self._cached = None
