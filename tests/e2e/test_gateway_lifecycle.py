"""What only the gateway process shows its sockets: losing its broker connection sends
`resync` once it is back; SIGTERM closes them with 1012. One stack: the SIGTERM comes last."""

from __future__ import annotations

import asyncio

from tests.support.rabbit import close_connections
from tests.support.ws import bearer, closed_with, next_frame, ws_url
from tools.api import Api, Session
from tools.stack import Stack


async def test_gateway_resyncs_its_sockets_after_its_broker_connection_returns(
    shared_stack: Stack, shared_api: Api, shared_operator: Session, shared_names: tuple[str, str]
) -> None:
    api, token = shared_api, shared_operator.access_token
    async with api.http.ws_connect(ws_url(shared_stack), headers=bearer(token)) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        assert await close_connections(f"{shared_names[0]}gateway") == 1
        assert await next_frame(ws, timeout=30) == {"type": "resync"}
        await ws.send_json({"type": "ping"})
        assert await next_frame(ws) == {"type": "pong"}


async def test_gateway_shutdown_closes_sockets_with_1012(
    stoppable_stack: Stack, shared_api: Api, shared_operator: Session
) -> None:
    stack, token = stoppable_stack, shared_operator.access_token
    async with shared_api.http.ws_connect(ws_url(stack), headers=bearer(token)) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        stopping = asyncio.get_running_loop().run_in_executor(None, stack.stop, "gateway")
        assert await closed_with(ws) == 1012
        assert (await stopping) == {"gateway": 0}
