"""API tests: the three services in the test's event loop (`app_stack`), driven over HTTP and
WebSocket like a companion app, against the real broker and store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from tests.support.cli import HAVEN_ADMIN, run_in_process
from tests.support.inprocess import AppStack
from tests.support.sharing import shares_stack
from tools.api import Api, DeviceKeys, Session
from tools.stack import BOOTSTRAP_OPERATOR


@pytest.fixture
async def api(app_stack: AppStack) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(http, app_stack.gateway_url)


@pytest.fixture(scope="module")
def module_operator_keys() -> DeviceKeys:
    """The bootstrap operator's one device on a module's shared stack (each test resumes it)."""
    return DeviceKeys()


@pytest.fixture
async def operator(api: Api, request: pytest.FixtureRequest) -> Session:
    shared = shares_stack(request)
    keys = request.getfixturevalue("module_operator_keys") if shared else None
    return await api.login(*BOOTSTRAP_OPERATOR, keys=keys)


NewOperator = Callable[[], Awaitable[Session]]


@pytest.fixture
def new_operator(api: Api, app_stack: AppStack) -> NewOperator:
    """Another operator, made as the first one is (`haven-admin create-operator`, in-process),
    signed in on a device of its own: a test that changes its operator's devices, sessions or
    password does so to its own account, not the one its module's other tests sign in as.
    Its handle is new, so nothing is left for another test (the module's store goes at its end).
    """

    async def make() -> Session:
        handle = f"op_{uuid.uuid4().hex[:12]}"
        password = f"{handle}-password-1"
        env = {**app_stack.env, "HAVEN_ADMIN_PASSWORD": password}
        created = await run_in_process([*HAVEN_ADMIN, "create-operator", "--handle", handle], env)
        assert created.returncode == 0, created.stderr
        return await api.login(handle, password)

    return make
