"""A broker node lost under load: the three services as processes on a three-node RabbitMQ
cluster, messages flowing at ~20/s over several conversations, then `kill -9` of the node the
services are connected to, and later of the node leading the command queues.

What must hold (issue #24): every send the gateway answered 202 is stored exactly once, in the
order it was sent in its conversation, and reaches its recipient; a send that meets the
failover is answered 503 with Retry-After (the client sends the same envelope again), never
500; delivery resumes within `RESUME_WITHIN` seconds; each killed node, started again, rejoins.
The figures are printed (docs/deploy.md quotes them)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from tests.support.ws import bearer, ws_url
from tools.api import Api, Session, coach_and_client, seal_for
from tools.cluster import Cluster
from tools.stack import BOOTSTRAP_OPERATOR, Stack

CONVERSATIONS = 4
RATE = 20.0  # messages per second, over all conversations
WARM_UP = 8.0  # seconds of traffic before the first kill
OBSERVE = 12.0  # seconds of traffic after a kill before the node is started again
SETTLE = 5.0  # seconds of traffic with all three nodes between the two losses
# Seconds from a kill until sends are taken and messages reach sockets again (a client waits
# the 503's Retry-After, 2 s, before it sends again; the services move in about one).
RESUME_WITHIN = 15.0
GIVE_UP_SENDING = 90.0  # a send still refused after this long counts as lost
SERVICES = ("gateway", "messaging", "notification")

pytestmark = pytest.mark.timeout(900)


@pytest.fixture
def stack_overrides() -> dict[str, str]:
    """Every service takes the nodes in the order listed, so all three are on the first node
    when it is killed: the worst case, every connection lost at once (in production each
    process takes its own order, HAVEN_AMQP_NODE_ORDER=shuffled)."""
    return {"HAVEN_AMQP_NODE_ORDER": "given"}


@dataclass
class Ledger:
    """Everything the clients saw, with the time they saw it (monotonic seconds)."""

    sent: dict[int, list[str]] = field(default_factory=dict)  # conversation -> accepted, in order
    started: dict[str, float] = field(default_factory=dict)  # message id -> first attempt
    accepted: dict[str, float] = field(default_factory=dict)  # message id -> its 202
    refused: list[tuple[float, int, str | None]] = field(default_factory=list)  # 503s
    unexpected: list[tuple[int, Any]] = field(default_factory=list)  # any other answer
    live: dict[str, float] = field(default_factory=dict)  # first seen on a socket
    synced: dict[str, float] = field(default_factory=dict)  # first seen by a sync
    socket_copies: Counter[str] = field(default_factory=Counter)

    def delivered(self, message_id: str) -> float | None:
        times = [t for t in (self.live.get(message_id), self.synced.get(message_id)) if t]
        return min(times) if times else None


@dataclass
class Conversation:
    index: int
    coach: Session
    client: Session
    cid: str
    devices: dict[str, bytes]


async def sender(
    api: Api, talk: Conversation, ledger: Ledger, stop: asyncio.Event, interval: float
) -> None:
    """The client side: one message every `interval`, each sent until the gateway takes it
    (a 503 is retried with the same envelope after its Retry-After, as the SDK does)."""
    loop = asyncio.get_running_loop()
    accepted = ledger.sent.setdefault(talk.index, [])
    path = f"/v1/conversations/{talk.cid}/messages"
    due, n = loop.time(), 0
    while not stop.is_set():
        await asyncio.sleep(max(0.0, due - loop.time()))
        due = max(due + interval, loop.time())
        text = f"conversation {talk.index} message {n}: nobody else reads this"
        envelope = seal_for(talk.client, talk.cid, talk.devices, text)
        message_id = envelope["message_id"]
        ledger.started[message_id] = first = loop.time()
        while True:
            try:
                reply = await api.call(
                    "POST", path, {"envelope": envelope}, talk.client.access_token
                )
            except aiohttp.ClientError as error:
                ledger.unexpected.append((0, type(error).__name__))
                await asyncio.sleep(1)
                continue
            if reply.status == 202:
                ledger.accepted[message_id] = loop.time()
                accepted.append(message_id)
                break
            if reply.status == 503 and loop.time() - first < GIVE_UP_SENDING:
                retry_after = reply.headers.get("Retry-After")
                ledger.refused.append((loop.time(), reply.status, retry_after))
                await asyncio.sleep(float(retry_after or 1))
                continue
            ledger.unexpected.append((reply.status, reply.body))
            break
        n += 1


async def receiver(
    http: aiohttp.ClientSession, api: Api, stack: Stack, talk: Conversation, ledger: Ledger,
    stop: asyncio.Event,
) -> None:  # fmt: skip
    """The coach's device: a socket that acks every message and syncs after `ready` and on
    `resync` (what the API asks of a client), reconnecting whenever the socket goes."""
    loop = asyncio.get_running_loop()
    cursor = [0]  # the highest seq a sync has returned

    async def sync() -> None:
        path = f"/v1/conversations/{talk.cid}/messages"
        while True:
            reply = await api.call(
                "GET", f"{path}?after_seq={cursor[0]}&limit=200", token=talk.coach.access_token
            )
            if reply.status != 200:
                await asyncio.sleep(0.5)  # the read path fails over too
                continue
            for item in reply.body["messages"]:
                ledger.synced.setdefault(item["message_id"], loop.time())
                cursor[0] = max(cursor[0], item["seq"])
            if not reply.body["has_more"]:
                return

    while not stop.is_set():
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.ws_connect(
                ws_url(stack), headers=bearer(talk.coach.access_token)
            ) as ws:
                async for message in ws:
                    if message.type != aiohttp.WSMsgType.TEXT:
                        break
                    frame = message.json()
                    if frame["type"] in ("ready", "resync"):
                        await sync()
                    elif frame["type"] == "message":
                        item = frame["message"]
                        ledger.live.setdefault(item["message_id"], loop.time())
                        ledger.socket_copies[item["message_id"]] += 1
                        await ws.send_json({"type": "ack", "message_id": item["message_id"]})
        await asyncio.sleep(0.5)


async def keep_fresh(api: Api, sessions: list[Session], stop: asyncio.Event) -> None:
    """Access tokens live five minutes; the run may take longer. (A socket whose token runs
    out closes with 4401: its receiver reconnects with the fresh one and syncs.)"""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 120)
        for session in [] if stop.is_set() else sessions:
            for _ in range(60):
                reply = await api.call(
                    "POST", "/v1/sessions/refresh", {"refresh_token": session.refresh_token}
                )
                if reply.status == 200:
                    session.access_token = reply.body["access_token"]
                    session.refresh_token = reply.body["refresh_token"]
                    break
                await asyncio.sleep(1)


@dataclass
class Loss:
    """One node killed: when, which, and what the services had on it."""

    node: str
    why: str
    killed_at: float  # the event loop's clock, as the ledger's
    killed_wall: float  # the wall clock, as the services' logs
    services_on_it: list[str]
    sends_resumed: float | None = None
    delivery_resumed: float | None = None
    reconnected: dict[str, float] = field(default_factory=dict)  # service -> seconds


def reconnections(loss: Loss, stack: Stack) -> None:
    """Seconds from the kill to each service's `bus_reconnected` (on another node)."""
    for service in loss.services_on_it:
        for line in stack.log_lines(service):
            if line.get("event") != "bus_reconnected":
                continue
            at = datetime.fromisoformat(str(line["timestamp"])).timestamp()
            if at >= loss.killed_wall:
                loss.reconnected[service] = at - loss.killed_wall
                break


def resumption(loss: Loss, ledger: Ledger) -> None:
    """Seconds from the kill to the first 202, and to the first socket delivery, of a message
    first sent after the kill."""
    after = [m for m, t in ledger.started.items() if t > loss.killed_at]
    accepted = [ledger.accepted[m] for m in after if m in ledger.accepted]
    live = [ledger.live[m] for m in after if m in ledger.live]
    loss.sends_resumed = min(accepted) - loss.killed_at if accepted else None
    loss.delivery_resumed = min(live) - loss.killed_at if live else None


async def wait_rejoined(cluster: Cluster) -> float:
    began = time.monotonic()
    await asyncio.to_thread(cluster.wait_joined, 180)
    return time.monotonic() - began


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def test_losing_a_node_under_load_loses_and_duplicates_nothing(
    cluster: Cluster,
    stack: Stack,
    http: aiohttp.ClientSession,
    mongo_client: AsyncMongoClient,
    isolation: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    namespace, prefix = isolation
    loop = asyncio.get_running_loop()
    api = Api(http, stack.gateway_url)
    operator = await api.login(*BOOTSTRAP_OPERATOR)
    talks = []
    for index in range(CONVERSATIONS):
        coach, client, cid, devices = await coach_and_client(api, operator, f"{prefix}_{index}")
        talks.append(Conversation(index, coach, client, cid, devices))

    ledger, stop_sending, stop_receiving = Ledger(), asyncio.Event(), asyncio.Event()
    interval = CONVERSATIONS / RATE
    receivers = [
        asyncio.create_task(receiver(http, api, stack, talk, ledger, stop_receiving))
        for talk in talks
    ]
    senders = [
        asyncio.create_task(sender(api, talk, ledger, stop_sending, interval)) for talk in talks
    ]
    sessions = [s for talk in talks for s in (talk.coach, talk.client)]
    refresher = asyncio.create_task(keep_fresh(api, sessions, stop_receiving))
    losses: list[Loss] = []
    rejoin_seconds: list[float] = []
    try:
        await asyncio.sleep(WARM_UP)
        # 1. The node the services are connected to (all of them: the first one listed).
        where = {
            name.removeprefix(namespace): node
            for name, node in (await asyncio.to_thread(cluster.connections)).items()
            if name.startswith(namespace)
        }
        assert where == dict.fromkeys(SERVICES, cluster.nodes[0].name), where
        target = cluster.nodes[0].name
        for why, node in [("the services' node", target), ("the command queues' leader", "")]:
            if not node:  # 2. The node leading most command queues, once all three run again
                leaders = await asyncio.to_thread(cluster.quorum_leaders)
                commands = Counter(
                    leader
                    for queue, leader in leaders.items()
                    if queue.startswith(f"{namespace}messaging.commands.")
                )
                assert commands, leaders
                node = commands.most_common(1)[0][0]
            on_it = sorted(s for s, n in where.items() if n == node)
            losses.append(Loss(node, why, loop.time(), time.time(), on_it))
            await asyncio.to_thread(cluster.kill, cluster.node(node))
            await asyncio.sleep(OBSERVE)
            await asyncio.to_thread(cluster.start_node, cluster.node(node))
            rejoin_seconds.append(await wait_rejoined(cluster))
            await asyncio.sleep(SETTLE)
            where = {
                name.removeprefix(namespace): n
                for name, n in (await asyncio.to_thread(cluster.connections)).items()
                if name.startswith(namespace)
            }
    finally:
        stop_sending.set()
        await asyncio.gather(*senders)
        all_accepted = set(ledger.accepted)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(60):  # until every accepted message reached its device
                while not all(ledger.delivered(m) for m in all_accepted):
                    await asyncio.sleep(0.5)
        stop_receiving.set()
        for task in receivers:
            task.cancel()  # a socket waiting for frames: the last sync runs in its own call
        await asyncio.gather(*receivers, return_exceptions=True)
        await refresher

    # The last catch-up sync of each device (cancelled above with its socket).
    for talk in talks:
        await final_sync(api, talk, ledger, loop.time())
    for loss in losses:
        resumption(loss, ledger)
        reconnections(loss, stack)

    messages = mongo_client[f"{prefix}_messaging"]["messages"]
    stored: dict[int, list[str]] = {}
    copies: Counter[str] = Counter()
    for talk in talks:
        cursor = messages.find({"conversation_id": talk.cid}, {"message_id": 1, "seq": 1})
        rows = sorted([row async for row in cursor], key=lambda row: row["seq"])
        stored[talk.index] = [row["message_id"] for row in rows]
        copies.update(stored[talk.index])
    accepted = [m for ids in ledger.sent.values() for m in ids]
    stored_once = sum(1 for m in accepted if copies[m] == 1)
    duplicated = sum(1 for m in accepted if copies[m] > 1)
    lost = [m for m in accepted if copies[m] == 0 or ledger.delivered(m) is None]
    delivered = sum(1 for m in accepted if ledger.delivered(m) is not None)
    live = sum(1 for m in accepted if m in ledger.live)
    twice_on_socket = sum(1 for m in accepted if ledger.socket_copies[m] > 1)
    retry_afters = Counter(header for _, _, header in ledger.refused)

    with capsys.disabled():
        print("\n== node loss under load (tests/cluster/test_node_loss.py) ==")
        print(
            f"traffic: {RATE:.0f} messages/s over {CONVERSATIONS} conversations, "
            f"{len(accepted)} sends"
        )
        for loss in losses:
            print(
                f"kill -9 {loss.node} ({loss.why}; services on it: "
                f"{', '.join(loss.services_on_it) or 'none'}): sends accepted again after "
                f"{_seconds(loss.sends_resumed)}, delivery to sockets resumed after "
                f"{_seconds(loss.delivery_resumed)}; reconnected to another node after "
                + (", ".join(f"{k} {v:.1f} s" for k, v in loss.reconnected.items()) or "-")
            )
        print(f"restarted nodes rejoined after: {', '.join(f'{s:.1f} s' for s in rejoin_seconds)}")
        print(
            f"accepted {len(accepted)} | stored once {stored_once} | delivered {delivered} "
            f"({live} live on the socket, the rest by sync) | refused with 503 "
            f"{len(ledger.refused)} (Retry-After {dict(retry_afters)}) | lost {len(lost)} | "
            f"duplicated {duplicated} | other answers {len(ledger.unexpected)} | "
            f"delivered twice on the socket (at-least-once, deduped by id) {twice_on_socket}"
        )

    assert not ledger.unexpected, ledger.unexpected[:5]  # no 500, no lost connection
    assert all(header is not None for _, _, header in ledger.refused)
    assert duplicated == 0 and not lost
    assert stored_once == len(accepted) == len(all_accepted)
    for talk in talks:  # in the order sent, and nothing stored that was not accepted
        assert stored[talk.index] == ledger.sent[talk.index]
    assert len(losses) == 2
    for loss in losses:
        assert loss.sends_resumed is not None and loss.sends_resumed < RESUME_WITHIN
        assert loss.delivery_resumed is not None and loss.delivery_resumed < RESUME_WITHIN
    assert await asyncio.to_thread(cluster.running_nodes) == sorted(n.name for n in cluster.nodes)
    members = await asyncio.to_thread(cluster.quorum_members)
    for queue, nodes in members.items():
        if queue.startswith(namespace):
            assert len(nodes) == 3, (queue, nodes)  # three replicas, the killed nodes included


async def final_sync(api: Api, talk: Conversation, ledger: Ledger, now: float) -> None:
    after = 0
    while True:
        reply = await api.call(
            "GET",
            f"/v1/conversations/{talk.cid}/messages?after_seq={after}&limit=200",
            token=talk.coach.access_token,
        )
        assert reply.status == 200, reply.body
        for item in reply.body["messages"]:
            ledger.synced.setdefault(item["message_id"], now)
            after = max(after, item["seq"])
        if not reply.body["has_more"]:
            return


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"
