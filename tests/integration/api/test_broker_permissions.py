"""The three services, each as its own RabbitMQ user with exactly the permissions the
compose deployment grants (`services/broker_users.py`, in a virtual host of the test's own):
a message travels the whole path, and each user is refused what it has no business doing."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict

import aio_pika
import aiormq
import pytest

from services.broker_users import SERVICES, permissions, topic_permissions
from shared.topology import Topology
from tests.support.inprocess import AppStack
from tests.support.isolation import topology
from tests.support.ws import next_frame, ws_url
from tools.api import Api, Session, coach_and_client, seal_for


def _ctl(*argv: str, stdin: str | None = None) -> None:
    subprocess.run(
        ["rabbitmqctl", "-q", *argv], input=stdin, capture_output=True, text=True, check=True
    )


def _password_hash(password: str) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


# One stack (and one vhost with its three users) for this module's tests
# (tests/support/sharing.py).
SHARED_STACK: dict[str, str] = {}


@pytest.fixture(scope="module")
async def broker_users(module_isolation: tuple[str, str]) -> AsyncIterator[dict[str, str]]:
    """A vhost with one user per service (permissions for the module's namespace): URLs.

    Made by one `rabbitmqctl import_definitions` (each rabbitmqctl call starts an Erlang VM
    of its own), granting what `rabbitmqctl set_permissions` and `set_topic_permissions` would.
    """
    tag = uuid.uuid4().hex[:10]
    names = topology(module_isolation[0])
    vhost, granted = f"perm-{tag}", permissions(names)
    users = {service: (f"{tag}-{service}", uuid.uuid4().hex) for service in SERVICES}
    definitions = {
        "vhosts": [{"name": vhost}],
        "users": [
            {
                "name": user,
                "password_hash": _password_hash(password),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": "",
            }
            for user, password in users.values()
        ],
        "permissions": [
            {"user": users[s][0], "vhost": vhost, **asdict(granted[s])} for s in SERVICES
        ],
        "topic_permissions": [
            {
                "user": users[rule.service][0],
                "vhost": vhost,
                "exchange": rule.exchange,
                "write": rule.write,
                "read": rule.read,
            }
            for rule in topic_permissions(names)
        ],
    }
    await asyncio.to_thread(_ctl, "import_definitions", stdin=json.dumps(definitions))
    try:
        yield {
            s: f"amqp://{user}:{password}@127.0.0.1:5672/{vhost}"
            for s, (user, password) in users.items()
        }
    finally:
        await asyncio.gather(
            asyncio.to_thread(_ctl, "delete_vhost", vhost),
            *(asyncio.to_thread(_ctl, "delete_user", users[s][0]) for s in SERVICES),
        )


@pytest.fixture(scope="module")
def module_service_overrides(broker_users: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each service of the module's stack connects as its own user, in the vhost."""
    return {s: {"HAVEN_AMQP_URL": url} for s, url in broker_users.items()}


async def test_one_user_per_service_carries_a_message_and_is_refused_the_rest(
    app_stack: AppStack,
    api: Api,
    operator: Session,
    broker_users: dict[str, str],
    clean_broker: Topology,
) -> None:
    coach, client, cid, devices = await coach_and_client(api, operator, "perm")
    headers = {"Authorization": f"Bearer {coach.access_token}"}
    async with api.http.ws_connect(ws_url(app_stack), headers=headers) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        envelope = seal_for(client, cid, devices, "through least privilege")
        sent = await api.call(
            "POST",
            f"/v1/conversations/{cid}/messages",
            {"envelope": envelope},
            token=client.access_token,
        )
        assert sent.status == 202, sent.body
        frame = await next_frame(ws)
        assert frame["type"] == "message"
        assert frame["message"]["message_id"] == envelope["message_id"]
        history = await api.call(
            "GET", f"/v1/conversations/{cid}/messages?after_seq=0", token=coach.access_token
        )  # an RPC from the gateway to messaging and back through the default exchange
        assert [m["message_id"] for m in history.body["messages"]] == [envelope["message_id"]]

    t = clean_broker  # and each user is refused what is not its business:
    assert await _refused(broker_users["notification"], "publish_command", t)
    assert await _refused(broker_users["messaging"], "publish_command", t)
    assert await _refused(broker_users["notification"], t.command_queue(0), t)
    assert await _refused(broker_users["gateway"], t.events_queue("messaging"), t)
    assert await _refused(broker_users["messaging"], t.push_queue, t)
    assert await _refused(broker_users["gateway"], t.dead_letters_queue, t)
    assert not await _refused(broker_users["gateway"], "publish_command", t)  # its own business


async def _ignore(message: aio_pika.abc.AbstractIncomingMessage) -> None:
    """Never called: the consume itself is refused."""


async def _refused(url: str, attempt: str, topology: Topology) -> bool:
    """True when the broker refuses `attempt` to the user of `url` (403 ACCESS_REFUSED)."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        try:
            if attempt == "publish_command":
                exchange = await channel.get_exchange(topology.commands, ensure=False)
                await exchange.publish(aio_pika.Message(b"{}"), routing_key="message.send.0")
                await channel.get_exchange(topology.commands)  # a round trip reveals the refusal
            else:
                queue = await channel.get_queue(attempt, ensure=False)
                await queue.consume(_ignore)
        except (aiormq.exceptions.ChannelAccessRefused, aio_pika.exceptions.ChannelClosed):
            return True
        return False
    finally:
        await connection.close()


# (service, exchange, routing key, whether that user may publish it)
TOPIC_CASES = [
    ("messaging", "events", "message.stored", True),
    ("messaging", "events", "account.deleted", False),  # the gateway's event
    ("messaging", "events", "device.added", False),
    ("gateway", "events", "device.added", True),
    ("gateway", "events", "device.backup_changed", True),  # history on a new device (#22)
    ("gateway", "events", "device.expiring", True),
    ("gateway", "events", "account.password_reset", True),
    ("messaging", "events", "account.password_reset", False),
    ("notification", "events", "device.backup_changed", False),
    ("gateway", "events", "message.stored", False),  # messaging's event
    ("gateway", "events", "message.deleted", False),
    ("gateway", "events", "receipt.read", False),
    ("gateway", "deliveries", "device.d-1", True),
    ("gateway", "deliveries", "account.deleted", False),
    ("messaging", "deliveries", "device.d-1", True),  # stored messages, straight to sockets
    ("messaging", "deliveries", "message.stored", False),
    ("notification", "deliveries", "device.d-1", True),
    ("notification", "deliveries", "message.stored", False),
]


async def test_each_service_may_publish_only_the_event_types_it_owns(
    app_stack: AppStack,  # the services declared the exchanges, as their own users
    broker_users: dict[str, str],
    clean_broker: Topology,
) -> None:
    exchanges = {"events": clean_broker.events, "deliveries": clean_broker.deliveries}
    wrong = [
        (service, key)
        for service, exchange, key, own in TOPIC_CASES
        if await _publish_refused(broker_users[service], exchanges[exchange], key) is own
    ]
    assert wrong == []


async def _publish_refused(url: str, exchange_name: str, routing_key: str) -> bool:
    """True when the broker refuses this user's publish with that routing key (403)."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(exchange_name, ensure=False)
        try:
            await exchange.publish(aio_pika.Message(b"{}"), routing_key=routing_key)
            await channel.get_exchange(exchange_name)  # a round trip reveals the refusal
        except (aiormq.exceptions.ChannelAccessRefused, aio_pika.exceptions.ChannelClosed):
            return True
        return False
    finally:
        await connection.close()
