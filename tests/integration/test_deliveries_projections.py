"""The notification projections on the real MongoDB-wire server: convergent, idempotent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient

from services.notification.repository import INDEXES, PENDING, NotificationRepository
from shared.mongo import Mongo
from tools.infra import Infra


@pytest.fixture
async def repository(
    infra: Infra, isolation: tuple[str, str], mongo_client: AsyncMongoClient
) -> AsyncIterator[NotificationRepository]:
    _, prefix = isolation
    mongo = Mongo(infra.mongo_url, f"{prefix}_notification")
    await mongo.ensure_indexes(INDEXES)
    yield NotificationRepository(mongo.db)
    await mongo.close()


async def test_relationship_ended_before_created_stays_ended(
    repository: NotificationRepository,
) -> None:
    await repository.relationship_ended("c1")
    assert await repository.relationship("c1") is None  # no participants known yet
    await repository.relationship_created("c1", "coach", "client")
    await repository.relationship_created("c1", "coach", "client")  # redelivered

    relationship = await repository.relationship("c1")
    assert relationship is not None
    assert relationship.status == "ended"
    assert relationship.participants == ("coach", "client")


async def test_counterparts_are_those_of_relationships_that_have_not_ended(
    repository: NotificationRepository,
) -> None:
    await repository.relationship_created("c1", "coach", "client1")
    await repository.relationship_created("c2", "coach", "client2")
    await repository.relationship_created("c3", "coach2", "client1")
    await repository.relationship_ended("c2")

    assert await repository.counterparts("coach") == {"client1"}
    assert await repository.counterparts("client2") == set()
    assert await repository.counterparts("client1") == {"coach", "coach2"}
    assert await repository.counterparts("nobody") == set()


async def test_a_removed_device_stays_removed_whatever_arrives_later(
    repository: NotificationRepository,
) -> None:
    await repository.device_active("a1", "d1")
    await repository.device_active("a1", "d2")
    await repository.device_active("a2", "d3")
    await repository.device_removed("a1", "d2")
    await repository.device_active("a1", "d2")  # a late device.added or device.updated
    await repository.device_removed("a2", "d9")  # removed before we ever saw it added
    await repository.device_active("a2", "d9")

    assert await repository.active_devices(["a1"]) == ["d1"]
    assert await repository.active_devices(["a1", "a2", "a3"]) == ["d1", "d3"]
    assert await repository.active_devices([]) == []


async def test_pending_notification_is_recorded_once_per_device_and_message(
    repository: NotificationRepository, mongo_client: AsyncMongoClient, isolation: tuple[str, str]
) -> None:
    assert await repository.record_pending("d1", "c1", "m1", "unroutable")
    assert not await repository.record_pending("d1", "c1", "m1", "ack_timeout")
    assert await repository.record_pending("d2", "c1", "m1", "ack_timeout")

    _, prefix = isolation
    docs = await mongo_client[f"{prefix}_notification"][PENDING].find({}).to_list()
    assert sorted((d["device_id"], d["message_id"], d["reason"]) for d in docs) == [
        ("d1", "m1", "unroutable"),
        ("d2", "m1", "ack_timeout"),
    ]
    assert all(d["conversation_id"] == "c1" and d["created_at"] is not None for d in docs)
