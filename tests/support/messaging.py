"""Driving the messaging service over the bus, as the gateway does, and watching its events."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aiohttp import web
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.messaging.settings import MessagingSettings
from shared.bus import Bus
from shared.commands import (
    DeleteData,
    DeleteMessage,
    MarkRead,
    ReadData,
    SendData,
    SendMessage,
)
from shared.events import Event, decode_events
from shared.lifecycle import started_key
from shared.logging import correlation
from shared.rpc import RpcClient
from shared.topology import Topology
from shared.wire import WireEnvelope
from tools.infra import Infra
from tools.processes import free_port


def b64(size: int) -> str:
    return base64.urlsafe_b64encode(os.urandom(size)).rstrip(b"=").decode()


def send_command(
    conversation_id: str,
    message_id: str | None = None,
    *,
    sender: str = "acct-client",
    device: str = "dev-client",
    recipients: tuple[str, ...] = ("dev-coach", "dev-client"),
    signature: str | None = None,
    correlation_id: str | None = None,
    urgent: bool = False,
) -> SendMessage:
    """A message.send as the gateway publishes it; messaging never opens the envelope."""
    message_id = message_id or str(uuid.uuid4())
    envelope = WireEnvelope(
        message_id=message_id,
        sender_device_id=device,
        alg="haven-v1",
        urgent=urgent,
        nonce=b64(24),
        ciphertext=b64(48),
        keys={d: b64(72) for d in recipients},
        commitment=b64(32),
        signature=signature or b64(64),
    )
    data = SendData(
        conversation_id=conversation_id,
        message_id=message_id,
        sender_account_id=sender,
        sender_device_id=device,
        urgent=urgent,
        envelope=envelope,
        participants=[sender, "acct-coach"],
    )
    with correlation(correlation_id):
        return SendMessage.create(data)


def delete_command(conversation_id: str, message_id: str, requested_by: str) -> DeleteMessage:
    data = DeleteData(
        conversation_id=conversation_id, message_id=message_id, requested_by=requested_by
    )
    with correlation(None):
        return DeleteMessage.create(data)


def read_command(conversation_id: str, account_id: str, up_to_seq: int) -> MarkRead:
    data = ReadData(conversation_id=conversation_id, account_id=account_id, up_to_seq=up_to_seq)
    with correlation(None):
        return MarkRead.create(data)


async def publish_command(bus: Bus, command: SendMessage | DeleteMessage | MarkRead) -> None:
    """Exactly the gateway's confirmed, mandatory publish to the command's shard."""
    await bus.send_command(command)


async def publish_raw(bus: Bus, routing_key: str, body: bytes) -> None:
    await bus.publish(
        bus.topology.commands, routing_key, body, message_id="raw", message_type="message.send"
    )


@dataclass
class EventTap:
    """A queue bound to the events exchange that collects every event, in arrival order."""

    events: list[Event] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            self.events.extend(decode_events(message.body))  # one, or a batch
            self.arrived.set()

    def of_type(self, event_type: str) -> list[Any]:
        return [e for e in self.events if e.type == event_type]

    async def wait_for(
        self, predicate: Callable[[EventTap], bool], timeout: float = 10.0, what: str = ""
    ) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self):
                self.arrived.clear()
                await self.arrived.wait()

    async def count(self, event_type: str, n: int, timeout: float = 10.0) -> list[Any]:
        try:
            await self.wait_for(lambda tap: len(tap.of_type(event_type)) >= n, timeout)
        except TimeoutError:
            have = len(self.of_type(event_type))
            raise AssertionError(f"{have} of {n} {event_type} events in {timeout}s") from None
        return self.of_type(event_type)


@asynccontextmanager
async def event_tap(amqp_url: str, topology: Topology, *keys: str) -> AsyncIterator[EventTap]:
    """Declares the events exchange itself, so it can start before any service did."""
    tap = EventTap()
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            topology.events, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for key in keys or ("#",):
            await queue.bind(exchange, key)
        await queue.consume(tap.on_message)
        yield tap


@asynccontextmanager
async def driver_bus(amqp_url: str, topology: Topology) -> AsyncIterator[Bus]:
    bus = Bus(amqp_url, topology, "test-driver")
    await bus.start()
    try:
        yield bus
    finally:
        await bus.close(2.0)


def messaging_settings(
    amqp_url: str,
    mongo_url: str,
    isolation: tuple[str, str],
    shards: int = 2,
    **extra: Any,
) -> MessagingSettings:
    namespace, prefix = isolation
    return MessagingSettings(
        **extra,
        amqp_url=amqp_url,
        mongo_url=mongo_url,
        namespace=namespace,
        db_prefix=prefix,
        command_shards=shards,
        messaging_port=free_port(),
        shutdown_grace_seconds=3.0,
    )


@asynccontextmanager
async def messaging_in_process(settings: MessagingSettings) -> AsyncIterator[web.Application]:
    """The real messaging application, started as `web.run_app` would, without a socket."""
    from services.messaging.app import create_app

    app = create_app(settings)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        async with asyncio.timeout(20):
            await app[started_key].wait()  # set by the start-up context during setup()
        yield app
    finally:
        await runner.cleanup()


@dataclass
class Harness:
    """A driver bus, an event tap and the messaging database, around an in-process service."""

    bus: Bus
    tap: EventTap
    db: AsyncDatabase[Any]
    topology: Topology
    amqp_url: str

    async def rpc(self, route: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await RpcClient.of(self.bus).call(route, payload)


@asynccontextmanager
async def messaging_harness(
    infra: Infra,
    isolation: tuple[str, str],
    topology: Topology,
    mongo_client: AsyncMongoClient[Any],
    **extra: Any,
) -> AsyncIterator[Harness]:
    settings = messaging_settings(infra.amqp_url, infra.mongo_url, isolation, **extra)
    async with (
        event_tap(infra.amqp_url, topology) as tap,
        messaging_in_process(settings),
        driver_bus(infra.amqp_url, topology) as bus,
    ):
        db = mongo_client[settings.database_name("messaging")]
        yield Harness(bus, tap, db, topology, infra.amqp_url)
