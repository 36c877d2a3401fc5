"""One robust AMQP connection to whichever node of the cluster answers.

aio-pika's `RobustConnection` reconnects to the one URL it was given, forever (aio-pika
#141). `FailoverConnection` is that connection with a list of nodes: it takes the next node
before every connection attempt — the first one, every reconnect after a loss, every retry
after a refused attempt — so a process whose node went away is back on another within about
`RECONNECT_INTERVAL` seconds, and restores its channels, queues, bindings and consumers there
(RobustConnection's own restore). Each process shuffles the nodes once, so a cluster's
clients spread over its nodes and do not all fail over to the same one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import structlog
from aio_pika import RobustConnection
from yarl import URL

from shared.urls import amqp_nodes, node_address

log = structlog.get_logger(__name__)

RECONNECT_INTERVAL = 1.0
CONNECT_TIMEOUT = 5.0  # per attempt: a node that does not answer is passed over
# RobustConnection's one connection attempt (a private method): overridden below to rotate.
_ATTEMPT = "_RobustConnection__connect_transport"
if not hasattr(RobustConnection, _ATTEMPT):  # pragma: no cover - guards an aio-pika upgrade
    raise ImportError(f"aio-pika's RobustConnection has no {_ATTEMPT}: update shared/failover.py")


class FailoverConnection(RobustConnection):
    """A RobustConnection that moves to the next node before each connection attempt."""

    def __init__(self, url: URL, nodes: Sequence[str] = (), **kwargs: Any) -> None:
        self._nodes = tuple(URL(node) for node in nodes) or (URL(url),)
        self._next = 0
        super().__init__(self._nodes[0], **kwargs)

    @property
    def node(self) -> str:
        """``host:port`` of the node in use (or being tried)."""
        return node_address(str(self.url))

    async def _RobustConnection__connect_transport(self) -> None:
        self.url = self._nodes[self._next % len(self._nodes)]
        self._next += 1
        if self._next > 1:
            log.info("broker_node_trying", node=self.node, nodes=len(self._nodes))
        attempt = getattr(super(), _ATTEMPT)
        await attempt()


def connection_order(
    url: str, *, shuffle: bool = True, rng: random.Random | None = None
) -> list[str]:
    """The nodes of `HAVEN_AMQP_URL` in this process's own order, or as listed."""
    nodes = list(amqp_nodes(url))
    if shuffle:
        (rng or random.SystemRandom()).shuffle(nodes)
    return nodes


async def connect(
    url: str, *, name: str, shuffle: bool = True, rng: random.Random | None = None
) -> FailoverConnection:
    """Connected to one node of `url` (waiting, never failing, until one answers)."""
    nodes = connection_order(url, shuffle=shuffle, rng=rng)
    connection = FailoverConnection(
        URL(nodes[0]),
        nodes,
        fail_fast=False,
        reconnect_interval=RECONNECT_INTERVAL,
        client_properties={"connection_name": name},
    )
    await connection.connect(timeout=CONNECT_TIMEOUT)
    log.info("broker_connected", node=connection.node, nodes=len(nodes))
    return connection


def connected_node(connection: object) -> str | None:
    """The node a bus connection is on, for logs and tests; None when not a failover one."""
    return connection.node if isinstance(connection, FailoverConnection) else None
