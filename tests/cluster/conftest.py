"""Cluster fixtures: the local three-node RabbitMQ cluster of tools/cluster.py (started for the
session unless `make cluster` already runs it, and then left running), and `infra` pointing
every fixture of tests/conftest.py — `clean_broker`, `stack` — at all three of its nodes."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tools.cluster import Cluster
from tools.infra import Infra, secantus


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    value = Cluster()
    started = value.start()
    try:
        yield value
    finally:
        if started:
            value.stop()
        else:  # `make cluster`'s: leave it as we found it, all three nodes running
            for node in value.nodes:
                value.start_node(node)
            value.wait_joined()


@pytest.fixture(scope="session")
def infra(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    """The cluster's multi-node HAVEN_AMQP_URL, and a fresh store (or HAVEN_TEST_MONGO_URL)."""
    mongo = os.environ.get("HAVEN_TEST_MONGO_URL")
    if mongo:
        yield Infra(cluster.url, mongo)
        return
    with secantus(str(tmp_path_factory.mktemp("infra"))) as url:
        yield Infra(cluster.url, url)
