"""E2E fixtures: the services as processes.

`shared_stack` is one stack per module; its tests tell themselves apart by unique handles,
never by assuming an empty database. A test that stops or restarts its services takes it as
`stoppable_stack`, which starts again what the test left stopped (unless no test of the module
comes after it: put such tests last). `stack` (tests/conftest.py) is a fresh stack per test,
for a test whose services need settings of their own, or the only test of its module."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from tests.support.isolation import drop_databases, drop_topology, new_isolation
from tools.api import Api, DeviceKeys, Session
from tools.infra import Infra
from tools.stack import BOOTSTRAP_OPERATOR, SERVICES, Stack, running_stack, stack_env


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(http, stack.gateway_url)


@pytest.fixture
async def operator(api: Api) -> Session:
    return await api.login(*BOOTSTRAP_OPERATOR)


# --- one stack per module ---------------------------------------------------------------


@pytest.fixture(scope="module")
async def shared_names(infra: Infra) -> AsyncIterator[tuple[str, str]]:
    """The module's AMQP namespace and database prefix; removed after its last test."""
    namespace, prefix = new_isolation()
    yield namespace, prefix
    await drop_topology(infra.amqp_url, namespace)
    client: AsyncMongoClient = AsyncMongoClient(infra.mongo_url)
    try:
        await drop_databases(client, prefix)
    finally:
        await client.close()


@pytest.fixture(scope="module")
def shared_stack(
    infra: Infra, shared_names: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The three services as processes, shared by the tests of one module."""
    directory = tmp_path_factory.mktemp("shared_stack")
    env = stack_env(infra.amqp_url, infra.mongo_url, *shared_names, directory)
    with running_stack(env, directory) as value:
        yield value


@pytest.fixture
def stoppable_stack(shared_stack: Stack, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """`shared_stack` for a test that stops services (SIGTERM, restarts): the services it
    left stopped run again for the module's next test."""
    before = [name for name in SERVICES if name in shared_stack.processes]
    yield shared_stack
    stopped = [name for name in before if name not in shared_stack.processes]
    if stopped and _module_goes_on(request):
        shared_stack.start(*stopped)
        shared_stack.wait_ready()


def _module_goes_on(request: pytest.FixtureRequest) -> bool:
    """Whether a test of this test's module runs after it (a module runs whole on one worker,
    in file order)."""
    items = request.session.items
    later = items[items.index(request.node) + 1 :]
    return any(item.path == request.node.path for item in later)


@pytest.fixture
async def shared_mongo(infra: Infra) -> AsyncIterator[AsyncMongoClient]:
    """A client to the store of `shared_stack` (its databases are named by `shared_names`)."""
    client: AsyncMongoClient = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture
async def shared_api(shared_stack: Stack) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(http, shared_stack.gateway_url)


@pytest.fixture(scope="module")
def shared_operator_keys() -> DeviceKeys:
    """The bootstrap operator's one device on the shared stack (every test resumes it)."""
    return DeviceKeys()


@pytest.fixture
async def shared_operator(shared_api: Api, shared_operator_keys: DeviceKeys) -> Session:
    return await shared_api.login(*BOOTSTRAP_OPERATOR, keys=shared_operator_keys)


@pytest.fixture
def unique() -> str:
    """A tag for handles that no other test on a shared stack uses."""
    return uuid.uuid4().hex[:8]
