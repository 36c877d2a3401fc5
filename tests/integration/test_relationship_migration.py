"""The gateway's start-up migration from the unique (coach, client) index to `live_pair`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pymongo import ASCENDING, AsyncMongoClient, IndexModel

from services.gateway.model.records import Relationship
from services.gateway.stores import INDEXES
from services.gateway.stores.relationships import (
    RETIRED_PAIR_INDEX,
    RelationshipExistsError,
    RelationshipRepository,
)
from shared.mongo import Mongo

NOW = datetime(2026, 11, 1, tzinfo=UTC)


async def test_existing_data_migrates_and_an_ended_pair_can_start_again(
    mongo_client: AsyncMongoClient, isolation: tuple[str, str], infra: object
) -> None:
    db = mongo_client[f"{isolation[1]}_migration"]
    legacy = IndexModel(
        [("coach_account_id", ASCENDING), ("client_account_id", ASCENDING)], unique=True
    )
    await db["relationships"].create_indexes([legacy])
    await db["relationships"].insert_many(
        [
            {
                "_id": "live",
                "coach_account_id": "k",
                "client_account_id": "c",
                "status": "active",
                "created_at": NOW,
            },
            {
                "_id": "old",
                "coach_account_id": "k",
                "client_account_id": "d",
                "status": "ended",
                "created_at": NOW,
            },
        ]
    )
    mongo = Mongo(infra.mongo_url, db.name)  # type: ignore[attr-defined]
    try:
        await mongo.ensure_indexes({"relationships": INDEXES["relationships"]})
    finally:
        await mongo.close()
    repository = RelationshipRepository(db)
    await repository.migrate()
    await repository.migrate()  # idempotent: every replica runs it at start
    assert RETIRED_PAIR_INDEX not in await db["relationships"].index_information()
    assert await repository.live_between("k", "c") and not await repository.live_between("k", "d")

    await repository.insert(Relationship("again", "k", "d", "active", NOW))  # after an end
    with pytest.raises(RelationshipExistsError):
        await repository.insert(Relationship("twice", "k", "c", "active", NOW))
    assert await repository.end("live", "k", NOW)
    await repository.insert(Relationship("new", "k", "c", "active", NOW))
