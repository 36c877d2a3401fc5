"""E2E fixtures: an HTTP driver bound to the running stack, and the bootstrap operator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.support.api import Api, Session
from tests.support.stack import BOOTSTRAP_OPERATOR, Stack


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(http, stack.gateway_url)


@pytest.fixture
async def operator(api: Api) -> Session:
    return await api.login(*BOOTSTRAP_OPERATOR)
