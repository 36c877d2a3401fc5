"""Request/response over `haven.rpc`: the reads the gateway asks of another service.

The contract, for every route:
- request: a JSON object, published to the `haven.rpc` direct exchange with the route as
  routing key, mandatory and non-persistent, `reply_to` = RabbitMQ's direct reply-to, the
  AMQP `correlation_id` (and `message_id`) = a fresh request id that matches the reply, and the
  caller's log correlation id in the `x-correlation-id` header (the server binds it to its logs);
- reply: the handler's JSON object, or `{"error": {"code", "detail"}}` when it failed (an
  `invalid_field` error adds `fields` and, when known, `reason`), sent to
  `reply_to` with the request's `correlation_id` (so a handler never returns a top-level
  `"error"` key);
- the caller raises `UnavailableError` when nothing answers in time, when no queue is bound for the
  route (the mandatory publish came back) or when the server answered `unavailable`, and
  `RpcError(code, detail, fields=…, reason=…)` for any other error answer.

Each route's request and reply are pydantic models, named together by a `Route`
(`shared/contracts.py`): the caller sends the request model and gets the reply model, the
server's handler takes the one and returns the other, and this module validates both once.

Servers are competing consumers of one quorum queue per service: a request has no value
once its caller gave up, so requests expire and the queue goes away (`x-expires`) once its
last server is gone. It is replicated like every durable queue: a classic queue whose node
died could not even be declared again until that node came back, which would keep every
server of a cluster that lost that node from answering. (RabbitMQ 4.3 refuses non-durable
queues that are not exclusive, and an exclusive one could not be shared by the replicas.)
Like the bus façade (`bus.py` and the `bus_*.py` beside it), this module is one of the two places
that touch aio-pika messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

import aio_pika
import aiormq
import pydantic
import structlog
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage
from prometheus_client import Counter, Histogram

from shared.bus import SCHEMA_VERSION, Bus
from shared.errors import HavenError, UnavailableError, field_errors, field_names
from shared.logging import current_correlation_id
from shared.topology import Topology

log = structlog.get_logger(__name__)

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
CORRELATION_HEADER = "x-correlation-id"
DEFAULT_TIMEOUT = 3.0
REQUEST_TTL_MS = 10_000  # a cap: each request also expires with its caller's timeout
QUEUE_EXPIRES_MS = 60_000  # the queue outlives a restart of its last server, not an outage

RPC_SERVED = Counter("haven_rpc_served_total", "RPC requests answered", ["route", "outcome"])
RPC_CALLS = Histogram("haven_rpc_call_seconds", "RPC round trips seen by callers", ["route"])

RpcHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
AMQP_ERRORS = (aio_pika.exceptions.AMQPError, aiormq.exceptions.AMQPError)


Q = TypeVar("Q", bound=pydantic.BaseModel)
R = TypeVar("R", bound=pydantic.BaseModel)


@dataclass(frozen=True)
class Route(Generic[Q, R]):
    """One RPC of the contract (`shared/contracts.py`): its routing key, and the models its
    request and reply are. Both sides go through it, so each is validated exactly once."""

    name: str
    request: type[Q]
    reply: type[R]

    def serve(self, handler: Callable[[Q], Awaitable[R]]) -> tuple[str, RpcHandler]:
        """A `serve_rpc` route: the request parsed into its model, the reply model rendered."""

        async def answer(payload: dict[str, Any]) -> dict[str, Any]:
            return _dump(await handler(self.request.model_validate(payload)))

        return self.name, answer

    def serve_checked(self, handler: Callable[[Q], Awaitable[R]]) -> tuple[str, RpcHandler]:
        """`serve`, but a request that fails validation is answered `invalid_field` naming the
        fields and the first reason (pydantic's message: it never quotes the input), which the
        gateway turns into a 422."""
        name, answer = self.serve(handler)

        async def checked(payload: dict[str, Any]) -> dict[str, Any]:
            try:
                self.request.model_validate(payload)
            except pydantic.ValidationError as error:
                problems = field_errors(error)
                reason = problems[0][1] if problems else None
                raise RpcError.invalid_fields(field_names(error), reason) from error
            return await answer(payload)

        return name, checked


def _dump(model: pydantic.BaseModel) -> dict[str, Any]:
    """On the wire an absent field and a null one mean the same: absent."""
    return model.model_dump(mode="json", exclude_none=True)


INVALID_FIELD = "invalid_field"  # a well-formed request with a field that is not acceptable


def invalid_fields_detail(fields: list[str], reason: str | None = None) -> str:
    """The detail of an `invalid_field` error: the fields, then why (never the values)."""
    detail = f"invalid fields: {', '.join(fields)}"
    return f"{detail}; {reason}" if reason else detail


class RpcError(HavenError):
    """The server answered with an error: `code` is its stable snake_case code. An
    `invalid_field` error names its `fields` and, when known, the `reason` (never the values):
    the gateway's 422 lists them."""

    def __init__(
        self, code: str, detail: str, *, fields: Sequence[str] = (), reason: str | None = None
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.fields = list(fields)
        self.reason = reason

    @classmethod
    def invalid_fields(cls, fields: Sequence[str], reason: str | None = None) -> RpcError:
        detail = invalid_fields_detail(list(fields), reason)
        return cls(INVALID_FIELD, detail, fields=fields, reason=reason)

    @classmethod
    def from_reply(cls, failure: Mapping[str, Any]) -> RpcError:
        fields, reason = failure.get("fields"), failure.get("reason")
        return cls(
            str(failure.get("code", "internal")),
            str(failure.get("detail", "")),
            fields=[str(f) for f in fields] if isinstance(fields, list) else (),
            reason=reason if isinstance(reason, str) else None,
        )

    def reply(self) -> dict[str, Any]:
        """The `error` object of the reply."""
        failure: dict[str, Any] = {"code": self.code, "detail": str(self)}
        if self.fields:
            failure["fields"] = self.fields
        if self.reason is not None:
            failure["reason"] = self.reason
        return failure


def rpc_queue(topology: Topology, service: str) -> str:
    return topology.name(f"{service}.rpc")


def rpc_arguments(topology: Topology) -> dict[str, Any]:
    """A quorum queue (so it outlives a broker node) whose requests expire, and which goes
    away a minute after its last server."""
    return topology.replicated() | {"x-message-ttl": REQUEST_TTL_MS, "x-expires": QUEUE_EXPIRES_MS}


_clients: weakref.WeakKeyDictionary[Bus, RpcClient] = weakref.WeakKeyDictionary()


class RpcClient:
    """Calls over one lazily opened channel that consumes direct reply-to; one per bus."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._opening = asyncio.Lock()
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    @classmethod
    def of(cls, bus: Bus) -> RpcClient:
        client = _clients.get(bus)
        if client is None:
            client = _clients[bus] = cls(bus)
        return client

    @overload
    async def call(self, route: Route[Q, R], request: Q, *, timeout: float = ...) -> R: ...

    @overload
    async def call(
        self, route: str, request: Mapping[str, Any], *, timeout: float = ...
    ) -> dict[str, Any]: ...

    async def call(
        self,
        route: Route[Any, Any] | str,
        request: pydantic.BaseModel | Mapping[str, Any],
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> pydantic.BaseModel | dict[str, Any]:
        """The server's answer; UnavailableError if there is none in time, RpcError if it failed.

        With a `Route`, the request is its request model and the answer is parsed into its
        reply model (UnavailableError if it does not fit: the server misbehaved, not the caller).
        A route name with a JSON object is the untyped wire call, for tests of the wire.
        """
        if isinstance(route, str):
            assert not isinstance(request, pydantic.BaseModel)
            return await self._call(route, request, timeout)
        assert isinstance(request, route.request)
        answer = await self._call(route.name, _dump(request), timeout)
        try:
            reply: pydantic.BaseModel = route.reply.model_validate(answer)
        except pydantic.ValidationError as error:
            detail = validation_detail(error)
            raise UnavailableError(f"{route.name} answered unexpectedly: {detail}") from error
        return reply

    async def _call(
        self, routing_key: str, payload: Mapping[str, Any], timeout: float
    ) -> dict[str, Any]:
        request_id = uuid.uuid4().hex
        reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = reply
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                exchange = await self._open()
                await self._publish(exchange, routing_key, payload, request_id, timeout)
                body = await reply
        except TimeoutError as error:
            raise UnavailableError(f"no answer to {routing_key} within {timeout}s") from error
        finally:
            self._pending.pop(request_id, None)
        RPC_CALLS.labels(route=routing_key).observe(time.perf_counter() - started)
        return _unwrap(body)

    async def _open(self) -> AbstractExchange:
        async with self._opening:
            if self._channel is None or self._channel.is_closed or self._exchange is None:
                channel = await self._bus.transient_channel()
                try:
                    replies = await channel.get_queue(DIRECT_REPLY_TO, ensure=False)
                    await replies.consume(self._on_reply, no_ack=True)
                    exchange = await channel.get_exchange(self._bus.topology.rpc, ensure=False)
                except AMQP_ERRORS as error:
                    await channel.close()
                    raise UnavailableError(f"rpc channel: {type(error).__name__}") from error
                self._channel, self._exchange = channel, exchange
                channel.close_callbacks.add(self._forget(channel))
            return self._exchange

    async def _publish(
        self,
        exchange: AbstractExchange,
        routing_key: str,
        payload: Mapping[str, Any],
        request_id: str,
        timeout: float,
    ) -> None:
        log_correlation = current_correlation_id()
        message = aio_pika.Message(
            json.dumps(payload).encode(),
            content_type="application/json",
            correlation_id=request_id,
            message_id=request_id,  # aiormq matches a returned message to its confirm by id
            reply_to=DIRECT_REPLY_TO,
            type=routing_key,
            expiration=timeout,
            headers={"version": SCHEMA_VERSION}
            | ({CORRELATION_HEADER: log_correlation} if log_correlation else {}),
            delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT,
        )
        try:
            result = await exchange.publish(message, routing_key, mandatory=True)
        except AMQP_ERRORS as error:
            if isinstance(error, aio_pika.exceptions.DeliveryError):
                self._drop_channel()  # refused (see `Bus._renew_publish_channel`): a new one
            raise UnavailableError(f"rpc request not sent: {type(error).__name__}") from error
        if isinstance(result, aiormq.abc.DeliveredMessage):
            raise UnavailableError(f"no server for {routing_key}")

    def _drop_channel(self) -> None:
        """The next call opens a channel of its own; this one closes (its callers' replies
        fail at once, `_forget`)."""
        channel = self._channel
        if channel is None or channel.is_closed:
            return

        async def close() -> None:
            with contextlib.suppress(*AMQP_ERRORS):
                await channel.close()

        closing = asyncio.create_task(close())
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        reply = self._pending.get(message.correlation_id or "")
        if reply is not None and not reply.done():
            reply.set_result(message.body)

    def _forget(self, channel: AbstractChannel) -> Callable[..., None]:
        """On the channel's loss: callers waiting on its replies get UnavailableError at once."""

        def closed(*_: object) -> None:
            if self._channel is not channel:
                return
            self._channel = self._exchange = None
            for reply in self._pending.values():
                if not reply.done():
                    reply.set_exception(UnavailableError("rpc channel closed"))

        return closed


def _unwrap(body: bytes) -> dict[str, Any]:
    try:
        reply = json.loads(body)
    except ValueError as error:
        raise RpcError("bad_reply", "the reply is not JSON") from error
    if not isinstance(reply, dict):
        raise RpcError("bad_reply", "the reply is not a JSON object")
    failure = reply.get("error")
    if isinstance(failure, dict):
        refused = RpcError.from_reply(failure)
        if refused.code == "unavailable":
            raise UnavailableError(str(refused))
        raise refused
    return reply


def validation_detail(error: ValueError) -> str:
    """What was wrong with a request, naming its fields and never echoing their values."""
    if isinstance(error, pydantic.ValidationError):
        return f"invalid fields: {', '.join(field_names(error))}"
    return "the request is not valid JSON"
