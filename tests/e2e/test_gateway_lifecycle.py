"""What only the gateway process shows its sockets: SIGTERM closes them with 1012; losing
its broker connection sends `resync` once it is back."""

from __future__ import annotations

import asyncio

from tests.support.rabbit import close_connections
from tests.support.ws import bearer, closed_with, next_frame, ws_url
from tools.api import Api, Session
from tools.stack import Stack


async def test_gateway_shutdown_closes_sockets_with_1012(
    stack: Stack, api: Api, operator: Session
) -> None:
    async with api.http.ws_connect(ws_url(stack), headers=bearer(operator.access_token)) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        stopping = asyncio.get_running_loop().run_in_executor(None, stack.stop, "gateway")
        assert await closed_with(ws) == 1012
        assert (await stopping) == {"gateway": 0}


async def test_gateway_resyncs_its_sockets_after_its_broker_connection_returns(
    stack: Stack, api: Api, operator: Session, isolation: tuple[str, str]
) -> None:
    async with api.http.ws_connect(ws_url(stack), headers=bearer(operator.access_token)) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        assert await close_connections(f"{isolation[0]}gateway") == 1
        assert await next_frame(ws, timeout=30) == {"type": "resync"}
        await ws.send_json({"type": "ping"})
        assert await next_frame(ws) == {"type": "pong"}
