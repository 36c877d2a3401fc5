"""RabbitMQ 4.3 and later refuse non-durable non-exclusive queues, global QoS and
`x-queue-master-locator`. The three services declare their whole topology on the real
broker (3.x in CI), and the broker's own listing must hold nothing 4.3 would refuse."""

from __future__ import annotations

import asyncio

from shared.rpc import rpc_queue
from shared.topology import Topology, queue_specs
from tests.support import broker_audit
from tests.support.inprocess import AppStack
from tests.support.ws import bearer, ws_url
from tools.api import Api, Session


def _expected(topology: Topology) -> set[str]:
    """Queues every kind of which must be in the listing, so the check covers them all."""
    names = {spec.name for spec in queue_specs(topology)}
    return names | {rpc_queue(topology, "messaging"), rpc_queue(topology, "notification")}


async def _listing(topology: Topology) -> list[broker_audit.BrokerQueue]:
    """The namespace's queues once every kind is declared (the push delay queues and the
    gateway's exclusive queues come up with their consumers)."""
    prefix = topology.namespace
    async with asyncio.timeout(20):
        while True:
            found = await broker_audit.queues(prefix)
            names = {q.name for q in found}
            kinds = {
                "delay": any(".notification.push.delay." in f".{n}" for n in names),
                "deliveries": any("gateway.deliveries." in n for n in names),
                "invalidation": any("gateway.invalidation." in n for n in names),
            }
            if _expected(topology) <= names and all(kinds.values()):
                return found
            await asyncio.sleep(0.2)


async def test_no_queue_or_channel_of_the_whole_topology_is_refused_by_rabbitmq_4(
    app_stack: AppStack, clean_broker: Topology, api: Api, operator: Session
) -> None:
    # An open socket binds its device on the gateway's exclusive deliveries queue.
    async with api.http.ws_connect(
        ws_url(app_stack), headers=bearer(operator.access_token)
    ) as socket:
        assert (await socket.receive_json(timeout=10))["type"] == "ready"
        listing = await _listing(clean_broker)
        global_qos = await broker_audit.channels_with_global_qos(clean_broker.namespace)

    refused = {q.name: q.problems() for q in listing if q.problems()}
    assert refused == {}
    assert global_qos == []
    per_process = [q for q in listing if "gateway." in q.name]
    assert per_process and all(q.exclusive for q in per_process)
    delays = [q for q in listing if ".push.delay." in q.name]
    assert delays and all(q.durable and "x-expires" in q.arguments for q in delays)
    rpc = [q for q in listing if q.name.endswith(".rpc")]
    assert len(rpc) == 2 and all(q.durable and "x-expires" in q.arguments for q in rpc)


def test_the_audit_flags_what_rabbitmq_4_refuses() -> None:
    """The check itself can fail: each forbidden shape is named."""
    transient = broker_audit.BrokerQueue("q", False, False, True, {})
    locator = broker_audit.BrokerQueue("q", True, False, False, {"x-queue-master-locator": "x"})
    fine = broker_audit.BrokerQueue("q", False, True, True, {})
    assert transient.problems() == ["non-durable and non-exclusive (transient_nonexcl_queues)"]
    assert locator.problems() == ["x-queue-master-locator"]
    assert fine.problems() == []
