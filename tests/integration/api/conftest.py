"""API tests: the three services in the test's event loop (`app_stack`), driven over HTTP and
WebSocket like a companion app, against the real broker and store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.support.inprocess import AppStack
from tools.api import Api, Session
from tools.stack import BOOTSTRAP_OPERATOR


@pytest.fixture
async def api(app_stack: AppStack) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(http, app_stack.gateway_url)


@pytest.fixture
async def operator(api: Api) -> Session:
    return await api.login(*BOOTSTRAP_OPERATOR)
