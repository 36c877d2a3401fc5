"""Fixtures: a real broker and MongoDB-wire server per session (per worker under `pytest -n`:
tests/support/parallel.py), isolated names per test (or per module: tests/support/sharing.py),
the services in-process (`app_stack`) or as processes (`stack`); markers by directory; a check
that no test leaves asyncio tasks running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from shared.topology import Topology
from tests.support import hangs, leaks, parallel
from tests.support.inprocess import AppStack, running_apps
from tests.support.isolation import drop_databases, drop_topology, new_isolation, topology
from tests.support.sharing import module_overrides, shares_stack
from tools.infra import Infra, session_infra
from tools.stack import Stack, running_stack, stack_env

TESTS = Path(__file__).parent
# directory = marker (registered in pyproject.toml)
KINDS = ("unit", "integration", "e2e", "browser", "cluster")
# Run only when named (`make test-cluster`): it starts a three-node RabbitMQ cluster and kills
# its nodes, which the default run (`make test`) leaves alone.
ON_REQUEST = ("cluster",)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    for kind in ON_REQUEST:
        directory = TESTS / kind
        if collection_path == directory and not _named(directory, config):
            return True
    return None


def _named(directory: Path, config: pytest.Config) -> bool:
    """Whether the command line names `directory` or something inside it."""
    here = config.invocation_params.dir
    for arg in config.args:
        path = (here / arg.split("::")[0]).resolve()
        if path == directory or directory in path.parents:
            return True
    return False


def pytest_configure(config: pytest.Config) -> None:
    parallel.configure_worker()
    hangs.install()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    return parallel.make_scheduler(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    parallel.order_for_workers(items, TESTS)
    stray = []
    for item in items:
        kind = item.path.relative_to(TESTS).parts[0]
        if kind in KINDS:
            item.add_marker(kind)
        else:
            stray.append(item.nodeid)
    if stray:
        raise pytest.UsageError(f"tests belong in tests/{{{','.join(KINDS)}}}/: {stray}")


# --- leaked tasks -----------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    token = leaks.OWNER.set(item.nodeid)
    try:
        return (yield)
    finally:
        leaks.OWNER.reset(token)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[object]) -> Generator[None, object, object]:
    """Tasks started by a module- or session-scoped fixture belong to that fixture."""
    if fixturedef.scope == "function":
        return (yield)
    token = leaks.OWNER.set(f"{fixturedef.scope}:{fixturedef.argname}")
    try:
        return (yield)
    finally:
        leaks.OWNER.reset(token)


@pytest.fixture(scope="session", autouse=True)
async def _task_labels() -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    leaks.track(loop)
    yield
    leaks.untrack(loop)


@pytest.fixture(autouse=True)
async def _no_leaked_tasks(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Set up before the test's other fixtures, torn down after them: then nothing the test
    started may still run."""
    yield
    left = await leaks.leaked(request.node.nodeid)
    if left:
        pytest.fail(f"tasks still running after teardown: {left}", pytrace=False)


# --- the broker and the store -----------------------------------------------------------


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    with session_infra(str(tmp_path_factory.mktemp("infra"))) as value:
        yield value


@pytest.fixture
def isolation(request: pytest.FixtureRequest) -> tuple[str, str]:
    """A unique AMQP namespace and database prefix for one test (or its module's)."""
    if shares_stack(request):
        return request.getfixturevalue("module_isolation")
    return new_isolation()


@pytest.fixture(scope="module")
def module_isolation() -> tuple[str, str]:
    return new_isolation()


@pytest.fixture
async def clean_broker(
    infra: Infra,
    isolation: tuple[str, str],
    stack_overrides: dict[str, str],
    request: pytest.FixtureRequest,
) -> AsyncIterator[Topology]:
    """The test's topology names; its queues and exchanges are deleted afterwards."""
    namespace, _ = isolation
    yield topology(namespace)
    if not shares_stack(request):  # else after the module's last test (`module_app_stack`)
        await drop_topology(infra.amqp_url, namespace, stack_overrides)


@pytest.fixture
async def mongo_client(
    infra: Infra, isolation: tuple[str, str], request: pytest.FixtureRequest
) -> AsyncIterator[AsyncMongoClient]:
    """A client to the session's store; the test's databases are dropped afterwards."""
    _, prefix = isolation
    client: AsyncMongoClient = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    yield client
    if not shares_stack(request):
        await drop_databases(client, prefix)
    await client.close()


# --- the services -----------------------------------------------------------------------


@pytest.fixture
def stack_overrides() -> dict[str, str]:
    """Environment on top of the test defaults; a module overrides this fixture to change it."""
    return {}


@pytest.fixture
def stack_environment(
    infra: Infra,
    isolation: tuple[str, str],
    tmp_path: Path,
    stack_overrides: dict[str, str],
    request: pytest.FixtureRequest,
) -> dict[str, str]:
    """The HAVEN_* environment of this test's services, in-process or as processes."""
    if shares_stack(request):
        return request.getfixturevalue("module_stack_environment")
    namespace, prefix = isolation
    env = stack_env(infra.amqp_url, infra.mongo_url, namespace, prefix, tmp_path)
    return {**env, **stack_overrides}


@pytest.fixture(scope="module")
def module_stack_environment(
    infra: Infra,
    module_isolation: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> dict[str, str]:
    """The environment of a module's shared stack: its `SHARED_STACK` on the defaults."""
    namespace, prefix = module_isolation
    directory = tmp_path_factory.mktemp("module_stack")
    env = stack_env(infra.amqp_url, infra.mongo_url, namespace, prefix, directory)
    return {**env, **module_overrides(request)}


@pytest.fixture(scope="module")
def module_service_overrides() -> dict[str, dict[str, str]]:
    """Per service, environment on top of a shared stack's (e.g. each service's own broker
    user); a module overrides this fixture to change it."""
    return {}


@pytest.fixture(scope="module")
async def module_app_stack(
    infra: Infra,
    module_isolation: tuple[str, str],
    module_service_overrides: dict[str, dict[str, str]],
    request: pytest.FixtureRequest,
) -> AsyncIterator[AppStack | None]:
    """The three services for every test of a module that shares them (else None); its names
    are removed after its last test."""
    if getattr(request.module, "SHARED_STACK", None) is None:
        yield None
        return
    namespace, prefix = module_isolation
    env = request.getfixturevalue("module_stack_environment")
    try:
        async with running_apps(env, module_service_overrides) as value:
            yield value
    finally:
        await drop_topology(infra.amqp_url, namespace, env)
        client: AsyncMongoClient = AsyncMongoClient(infra.mongo_url)
        try:
            await drop_databases(client, prefix)
        finally:
            await client.close()


@pytest.fixture
async def app_stack(
    stack_environment: dict[str, str],
    clean_broker: Topology,
    mongo_client: AsyncMongoClient,
    module_app_stack: AppStack | None,
    request: pytest.FixtureRequest,
) -> AsyncIterator[AppStack]:
    """The three services in this test's event loop, isolated for this test (or shared by
    its module's tests: tests/support/sharing.py)."""
    if module_app_stack is not None and shares_stack(request):
        yield module_app_stack
        module_app_stack.logs.lines.clear()  # the next test sees its own lines only
        return
    async with running_apps(stack_environment) as value:
        yield value


@pytest.fixture
def stack(
    stack_environment: dict[str, str],
    clean_broker: Topology,
    mongo_client: AsyncMongoClient,
    tmp_path: Path,
) -> Iterator[Stack]:
    """The three real services as processes, isolated for this test: for what only a process
    shows (signals, exit codes, restarts, broker loss) and the SDK journeys."""
    with running_stack(stack_environment, tmp_path) as value:
        yield value
