"""Fixtures: a real broker and MongoDB-wire server per session, isolated names per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aio_pika
import pytest
from pymongo import AsyncMongoClient

from shared.topology import Topology, queue_specs
from tests.support.infra import Infra, session_infra
from tests.support.stack import Stack, running_stack, stack_env


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    with session_infra(str(tmp_path_factory.mktemp("infra"))) as value:
        yield value


@pytest.fixture
def isolation() -> tuple[str, str]:
    """A unique AMQP namespace and database prefix for one test."""
    tag = uuid.uuid4().hex[:10]
    return f"t{tag}.", f"t{tag}"


@pytest.fixture
async def clean_broker(infra: Infra, isolation: tuple[str, str]) -> AsyncIterator[Topology]:
    """The test's topology names; its queues and exchanges are deleted afterwards."""
    namespace, _ = isolation
    topology = Topology(namespace=namespace, command_shards=2)
    yield topology
    connection = await aio_pika.connect(infra.amqp_url)
    async with connection:
        channel = await connection.channel()
        for spec in queue_specs(topology):
            await channel.queue_delete(spec.name)
        for name in (
            topology.commands,
            topology.events,
            topology.deliveries,
            topology.rpc,
            topology.dead,
        ):
            await channel.exchange_delete(name)


@pytest.fixture
async def mongo_client(infra: Infra, isolation: tuple[str, str]) -> AsyncIterator[AsyncMongoClient]:
    """A client to the session's store; the test's databases are dropped afterwards."""
    _, prefix = isolation
    client: AsyncMongoClient = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    yield client
    for name in await client.list_database_names():
        if name.startswith(f"{prefix}_"):
            await client.drop_database(name)
    await client.close()


@pytest.fixture
def stack_overrides() -> dict[str, str]:
    """Environment on top of the test defaults; a module overrides this fixture to change it."""
    return {}


@pytest.fixture
def stack(
    infra: Infra,
    isolation: tuple[str, str],
    clean_broker: Topology,
    mongo_client: AsyncMongoClient,
    tmp_path: Path,
    stack_overrides: dict[str, str],
) -> Iterator[Stack]:
    """The three real services as processes, isolated for this test."""
    namespace, prefix = isolation
    env = stack_env(infra.amqp_url, infra.mongo_url, namespace, prefix, tmp_path)
    with running_stack({**env, **stack_overrides}, tmp_path) as value:
        yield value
