"""PyMongo async client façade: connection, readiness and index creation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from pymongo import AsyncMongoClient, IndexModel
from pymongo import timeout as operation_timeout
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

log = structlog.get_logger(__name__)

Document = dict[str, Any]
IndexSpec = Mapping[str, Sequence[IndexModel]]
INDEX_NOT_FOUND = 27  # a replica starting beside this one dropped it first
# Retention set by configuration: collection -> (date field, seconds a document is kept).
TtlSpec = Mapping[str, tuple[str, float]]


def merged_indexes(*specs: IndexSpec) -> IndexSpec:
    """The indexes of every part of a service, per collection (several parts may index one)."""
    indexes: dict[str, list[IndexModel]] = {}
    for spec in specs:
        for collection, models in spec.items():
            indexes.setdefault(collection, []).extend(models)
    return indexes


class Mongo:
    """One client per process; the service's own database under `db`."""

    def __init__(self, url: str, database: str, *, timeout_ms: int = 3000) -> None:
        self.client: AsyncMongoClient[Document] = AsyncMongoClient(
            url,
            tz_aware=True,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            retryWrites=True,
            appname="haven",
        )
        self.db: AsyncDatabase[Document] = self.client[database]
        self.indexed = False

    async def ping(self, *, seconds: float = 2.0) -> bool:
        """Whether the store answers; bounded by the driver's own timeout, because cancelling a
        driver call from outside (asyncio.wait_for) can leave its connection lock broken."""
        try:
            with operation_timeout(seconds):
                await self.db.command("ping")
        except PyMongoError:
            return False
        return True

    async def ensure_indexes(self, specs: IndexSpec) -> None:
        """Create the service's indexes; idempotent, so every replica runs it at start."""
        for collection, indexes in specs.items():
            if indexes:
                await self._drop_replaced(collection, indexes)
                await self.db[collection].create_indexes(list(indexes))
        self.indexed = True
        log.info("indexes_ready", database=self.db.name, collections=sorted(specs))

    async def _drop_replaced(self, collection: str, indexes: Sequence[IndexModel]) -> None:
        """An index is known by its name: an existing index on the same keys under a name the
        service no longer uses is an earlier definition of it. It is dropped first, since the
        store refuses a second index on the same keys with other options."""
        wanted = {model.document["name"]: list(model.document["key"].items()) for model in indexes}
        existing = await self.db[collection].index_information()
        for name, info in existing.items():
            if name in wanted or list(info["key"]) not in wanted.values():
                continue
            try:
                await self.db[collection].drop_index(name)
            except OperationFailure as error:
                if error.code != INDEX_NOT_FOUND:
                    raise
            log.info("index_replaced", database=self.db.name, collection=collection, index=name)

    async def ensure_ttl(self, specs: TtlSpec) -> None:
        """TTL indexes whose period is a setting: created, or changed in place with `collMod`
        when the operator changed the period (re-creating one with other options fails)."""
        for collection, (field, seconds) in specs.items():
            ttl = max(1, round(seconds))
            indexes = await self.db[collection].index_information()
            current = next(
                (info for info in indexes.values() if list(info["key"]) == [(field, 1)]), None
            )
            if current is None:
                await self.db[collection].create_index(field, expireAfterSeconds=ttl)
            elif current.get("expireAfterSeconds") != ttl:
                await self.db.command(
                    "collMod",
                    collection,
                    index={"keyPattern": {field: 1}, "expireAfterSeconds": ttl},
                )
        log.info("ttl_indexes_ready", database=self.db.name, collections=sorted(specs))

    async def close(self) -> None:
        await self.client.close()
