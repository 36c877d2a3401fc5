"""Integration fixtures: the messaging service run in-process against the real broker and store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient

from shared.topology import Topology
from tests.integration.push_world import open_world, world  # noqa: F401 - push fixtures
from tests.support.messaging import Harness, messaging_harness
from tools.infra import Infra


@pytest.fixture
async def harness(
    infra: Infra,
    isolation: tuple[str, str],
    clean_broker: Topology,
    mongo_client: AsyncMongoClient,
) -> AsyncIterator[Harness]:
    async with messaging_harness(infra, isolation, clean_broker, mongo_client) as value:
        yield value
