"""The serving side of RPC over RabbitMQ: a service answers its routes from its RPC queue,
competing with its other replicas (shared/rpc.py has the routes, the errors and the client)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractIncomingMessage

from shared.bus import SCHEMA_VERSION, Bus
from shared.errors import ApiError
from shared.logging import correlation
from shared.rpc import (
    AMQP_ERRORS,
    CORRELATION_HEADER,
    RPC_SERVED,
    RpcError,
    RpcHandler,
    rpc_arguments,
    validation_detail,
)
from shared.topology import QueueSpec, settle
from shared.transient import is_transient

log = structlog.get_logger(__name__)


async def serve_rpc(
    bus: Bus, queue_name: str, routes: Mapping[str, RpcHandler], *, prefetch: int = 32
) -> None:
    """Answer `routes` from `queue_name` (competing with other replicas) until the bus closes."""
    topology = bus.topology
    spec = QueueSpec(
        queue_name, rpc_arguments(topology), tuple((topology.rpc, key) for key in routes)
    )
    assert bus.connection is not None, "bus.start() first"
    arguments = await settle(bus.connection, spec)
    channel = await bus.channel(prefetch=prefetch)
    # Declared and bound on the robust channel too, so a reconnect (to another node) restores
    # the queue, its bindings and the consumer together.
    if arguments is None:  # an older Haven's classic queue, kept as it is (`settle`)
        queue = await channel.declare_queue(queue_name, passive=True)
    else:
        queue = await channel.declare_queue(queue_name, durable=True, arguments=arguments)
    for routing_key in routes:
        await queue.bind(topology.rpc, routing_key)

    async def on_request(message: AbstractIncomingMessage) -> None:
        route = message.routing_key or ""
        header = (message.headers or {}).get(CORRELATION_HEADER)
        with correlation(header if isinstance(header, str) else None):
            reply = await _respond(routes, route, message.body)
        try:
            if message.reply_to:
                await channel.default_exchange.publish(
                    aio_pika.Message(
                        reply,
                        content_type="application/json",
                        correlation_id=message.correlation_id,
                        headers={"version": SCHEMA_VERSION},
                        delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT,
                    ),
                    routing_key=message.reply_to,
                )
            await message.ack()
        except AMQP_ERRORS:
            # Unacked, so the broker hands the request to another server if it has not expired.
            log.warning("rpc_reply_lost", route=route)

    await queue.consume(on_request)
    log.info("rpc_serving", queue=queue_name, routes=sorted(routes))


async def _respond(routes: Mapping[str, RpcHandler], route: str, body: bytes) -> bytes:
    try:
        result = await _dispatch(routes, route, body)
    except Exception as error:  # every failure becomes an error reply
        failure = _describe(error)
        RPC_SERVED.labels(route=route, outcome=failure.code).inc()
        return json.dumps({"error": failure.reply()}).encode()
    RPC_SERVED.labels(route=route, outcome="ok").inc()
    return json.dumps(result).encode()


async def _dispatch(routes: Mapping[str, RpcHandler], route: str, body: bytes) -> dict[str, Any]:
    handler = routes.get(route)
    if handler is None:
        raise RpcError("unknown_route", f"no handler for {route}")
    request = json.loads(body)
    if not isinstance(request, dict):
        raise RpcError("invalid_request", "the request must be a JSON object")
    return await handler(request)


def _describe(error: Exception) -> RpcError:
    """The error reply; its detail never echoes request values."""
    if isinstance(error, RpcError):
        return error
    if isinstance(error, ApiError):
        return RpcError(error.code, str(error))
    if isinstance(error, ValueError):  # pydantic.ValidationError and malformed JSON
        return RpcError("invalid_request", validation_detail(error))
    if is_transient(error):
        log.warning("rpc_unavailable", reason=type(error).__name__)
        return RpcError("unavailable", "a dependency did not answer")
    log.exception("rpc_handler_failed")
    return RpcError("internal", "the request could not be answered")
