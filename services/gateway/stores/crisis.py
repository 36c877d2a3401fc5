"""Operator-configured crisis resources: public, attached to every urgent-send answer, and
required before a deployment takes clients.

There is no generic fallback: until an operator sets them (`PUT /v1/admin/crisis-resources`
or `HAVEN_CRISIS_RESOURCES_FILE`), the list is empty and client invites are refused. A list
set over the API wins over the file. The shipped example (`deploy/crisis-resources.example.json`,
what compose and `make up` start with) carries an `"example"` line and is served as no list at
all: a fresh install takes no clients until an operator has put real, local help in place.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from services.gateway.model.schemas import CrisisResources as ResourceList
from shared.mongo import Document

CACHE_SECONDS = 10.0


EXAMPLE_MARKER = "example"


def is_example_file(path: Path) -> bool:
    """Whether the file still carries the example's marker (an operator has not edited it)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and EXAMPLE_MARKER in document


def load_resources_file(path: Path) -> list[dict[str, Any]]:
    """The file's resources (none from the unedited example), or ValueError saying what is
    wrong (never echoing its content)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        example = isinstance(document, dict) and document.pop(EXAMPLE_MARKER, None) is not None
        parsed = ResourceList.model_validate(document)
    except OSError as exc:
        reason = type(exc).__name__
        raise ValueError(f"cannot be read ({reason})") from None
    except ValueError as exc:  # JSONDecodeError and pydantic.ValidationError alike
        reason = type(exc).__name__
        raise ValueError(
            'must be JSON {"resources": [{"name", "contact", "description", "region"}, ...]}'
            f" with at least one entry ({reason})"
        ) from None
    return [] if example else [item.model_dump() for item in parsed.resources]


class CrisisResources:
    """Read on every urgent send and every client invite: cached briefly (every replica sees an
    update within seconds); when the database fails, the last known list is used."""

    def __init__(self, db: AsyncDatabase[Document], from_file: list[dict[str, Any]]) -> None:
        self._c = db["config"]
        self._from_file = from_file
        self._cached: list[dict[str, Any]] = from_file
        self._read_at = -CACHE_SECONDS

    async def current(self) -> list[dict[str, Any]]:
        """The operator's list; empty while none is set."""
        if time.monotonic() - self._read_at < CACHE_SECONDS:
            return self._cached
        try:
            doc = await self._c.find_one({"_id": "crisis_resources"})
        except PyMongoError:
            return self._cached
        self._cached = list(doc["resources"]) if doc else self._from_file
        self._read_at = time.monotonic()
        return self._cached

    async def configured(self) -> bool:
        """Whether a person in crisis can be pointed to real help: a list is set."""
        return bool(await self.current())

    async def replace(self, resources: list[dict[str, Any]]) -> None:
        await self._c.update_one(
            {"_id": "crisis_resources"}, {"$set": {"resources": resources}}, upsert=True
        )
        self._cached, self._read_at = resources, time.monotonic()
