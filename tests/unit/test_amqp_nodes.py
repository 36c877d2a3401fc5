"""HAVEN_AMQP_URL with several broker nodes: parsing, checks, passwords, and the order each
process tries them in (shared/urls.py, shared/failover.py)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from pathlib import Path

import pytest
from pydantic import ValidationError
from yarl import URL

from shared.failover import FailoverConnection, connection_order
from shared.settings import CommonSettings, describe_error
from shared.urls import amqp_nodes, node_address, password_of, with_password

ONE = "amqp://guest:guest@127.0.0.1:5672/"
THREE = (
    "amqp://haven:s3cret-pw@rmq1:5672/haven,"
    "amqp://haven:s3cret-pw@rmq2:5672/haven,"
    "amqp://haven:s3cret-pw@rmq3:5673/haven"
)


def test_a_single_url_is_one_node_unchanged() -> None:
    assert amqp_nodes(ONE) == (ONE,)
    assert amqp_nodes("amqps://u:p@broker.example/") == ("amqps://u:p@broker.example/",)


def test_several_nodes_are_split_at_each_url_in_the_order_given() -> None:
    nodes = amqp_nodes(THREE.replace(",", " , "))
    assert [node_address(n) for n in nodes] == ["rmq1:5672", "rmq2:5672", "rmq3:5673"]
    assert all(n.startswith("amqp://haven:s3cret-pw@") for n in nodes)


def test_a_comma_inside_a_password_does_not_split_the_node() -> None:
    url = "amqp://haven:pa,ss@rmq1/v,amqp://haven:pa,ss@rmq2/v"
    assert [password_of(node) for node in amqp_nodes(url)] == ["pa,ss", "pa,ss"]


def test_the_default_ports_are_those_of_the_scheme() -> None:
    assert node_address("amqp://rmq1/") == "rmq1:5672"
    assert node_address("amqps://rmq1/") == "rmq1:5671"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://rmq1/", "must be an amqp:// or amqps:// URL"),
        ("amqp://rmq1/v,amqps://rmq2/v", "differ only in host and port"),
        ("amqp://a:secret-one@rmq1/v,amqp://a:secret-two@rmq2/v", "differ only in host and port"),
        ("amqp://a@rmq1/v,amqp://a@rmq2/other", "differ only in host and port"),
        ("amqp://a@rmq1/v?heartbeat=5,amqp://a@rmq2/v", "differ only in host and port"),
        ("amqp://a@rmq1:5672/v,amqp://a@rmq1/v", "the same node twice"),
        ("amqp://a@rmq1:notaport/v", "port is not a number"),
        ("amqp://a@rmq1/v,amqp:///v", "node 2: names no host"),
        ("", "must be an amqp:// or amqps:// URL"),
    ],
)
def test_unusable_node_lists_are_refused_without_quoting_them(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        amqp_nodes(url)
    assert "secret" not in str(caught.value) and "rmq" not in str(caught.value)


def test_settings_take_several_nodes_and_refuse_a_placeholder_in_any(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HAVEN_AMQP_URL", THREE)
    assert CommonSettings().amqp_url == THREE
    monkeypatch.setenv(
        "HAVEN_AMQP_URL", "amqp://h:my-changeme-pw@rmq1/v,amqp://h:my-changeme-pw@rmq2/v"
    )
    with pytest.raises(ValidationError) as caught:
        CommonSettings()
    line = describe_error(caught.value)
    assert line.startswith("HAVEN_AMQP_URL:") and "placeholder" in line
    assert "my-changeme-pw" not in line and "rmq" not in line


def test_a_password_file_goes_into_every_node(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "amqp_password"
    secret.write_text("from/the,file\n")
    monkeypatch.setenv(
        "HAVEN_AMQP_URL", "amqp://haven-gateway@rmq1/haven,amqp://haven-gateway@rmq2/haven"
    )
    monkeypatch.setenv("HAVEN_AMQP_PASSWORD_FILE", str(secret))
    nodes = amqp_nodes(CommonSettings().amqp_url)
    assert [password_of(node) for node in nodes] == ["from/the,file"] * 2
    assert [node_address(node) for node in nodes] == ["rmq1:5672", "rmq2:5672"]


def test_a_password_file_goes_into_a_replica_set_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "mongo_password"
    secret.write_text("db-secret-1\n")
    url = "mongodb://haven-messaging@mongo1:27017,mongo2:27017,mongo3:27017/?replicaSet=rs0&w=majority"
    monkeypatch.setenv("HAVEN_MONGO_URL", url)
    monkeypatch.setenv("HAVEN_MONGO_PASSWORD_FILE", str(secret))
    assert CommonSettings().mongo_url == url.replace(
        "haven-messaging@", "haven-messaging:db-secret-1@"
    )


def test_with_password_needs_a_user() -> None:
    with pytest.raises(ValueError, match="needs a user name"):
        with_password("amqp://rmq1/v", "pw-1234567")
    assert with_password(ONE, "new pw") == "amqp://guest:new%20pw@127.0.0.1:5672/"


def test_each_process_orders_the_nodes_its_own_way() -> None:
    nodes = amqp_nodes(THREE)
    orders = {tuple(connection_order(THREE, rng=random.Random(seed))) for seed in range(20)}
    assert all(sorted(order) == sorted(nodes) for order in orders)
    assert len(orders) > 1  # spread over the nodes, not all to the first
    assert connection_order(ONE) == [ONE]
    assert connection_order(THREE, shuffle=False) == list(nodes)  # HAVEN_AMQP_NODE_ORDER=given


def test_the_node_order_setting_takes_two_values(monkeypatch: pytest.MonkeyPatch) -> None:
    assert CommonSettings().amqp_node_order == "shuffled"
    monkeypatch.setenv("HAVEN_AMQP_NODE_ORDER", "given")
    assert CommonSettings().amqp_node_order == "given"
    monkeypatch.setenv("HAVEN_AMQP_NODE_ORDER", "first")
    with pytest.raises(ValidationError) as caught:
        CommonSettings()
    assert describe_error(caught.value).startswith("HAVEN_AMQP_NODE_ORDER:")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


class Recording(FailoverConnection):
    """Notes the port of every connection attempt."""

    tried: list[int]
    enough: asyncio.Event

    async def _RobustConnection__connect_transport(self) -> None:
        try:
            await super()._RobustConnection__connect_transport()
        finally:
            self.tried.append(self.url.port or 0)
            if len(self.tried) >= 7:
                self.enough.set()


async def test_every_connection_attempt_moves_to_the_next_node() -> None:
    """Three nodes that refuse: the attempts go round all of them, in order, again and again."""
    ports = [closed_port() for _ in range(3)]
    nodes = [f"amqp://guest:guest@127.0.0.1:{port}/" for port in ports]
    connection = Recording(URL(nodes[0]), nodes, fail_fast=False, reconnect_interval=0.01)
    connection.tried, connection.enough = [], asyncio.Event()
    connecting = asyncio.create_task(connection.connect(timeout=1))
    try:
        await asyncio.wait_for(connection.enough.wait(), 20)
    finally:
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
        await connection.close()
    assert connection.tried[:7] == [*ports, *ports, ports[0]]
