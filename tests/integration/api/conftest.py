"""API tests: the three services in the test's event loop (`app_stack`), driven over HTTP and
WebSocket like a companion app, against the real broker and store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

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
