"""Messaging's reads over RPC, and the RPC façade itself, against the real broker and store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from shared.contracts import (
    HISTORY,
    MESSAGE,
    SUMMARY,
    HistoryPage,
    HistoryQuery,
    MessageLookup,
    SummaryQuery,
)
from shared.errors import UnavailableError
from shared.logging import correlation, current_correlation_id
from shared.rpc import RpcClient, RpcError
from shared.rpc_server import serve_rpc
from shared.topology import Topology
from tests.support.messaging import (
    Harness,
    delete_command,
    driver_bus,
    publish_command,
    read_command,
    send_command,
)
from tools.infra import Infra
from tools.namespace import connect_any


async def stored(harness: Harness, conversation_id: str, n: int) -> list[str]:
    commands = [send_command(conversation_id) for _ in range(n)]
    for command in commands:
        await publish_command(harness.bus, command)
    await harness.tap.count("message.stored", n)
    return [c.data.message_id for c in commands]


async def test_history_pages_forward_for_sync_and_backward_for_scrolling(harness: Harness) -> None:
    ids = await stored(harness, "conv-a", 7)

    default = await harness.rpc("messaging.history", {"conversation_id": "conv-a"})
    assert [m["seq"] for m in default["messages"]] == [1, 2, 3, 4, 5, 6, 7]
    assert [m["message_id"] for m in default["messages"]] == ids
    assert default["has_more"] is False

    forward = await harness.rpc(
        "messaging.history", {"conversation_id": "conv-a", "after_seq": 2, "limit": 3}
    )
    assert [m["seq"] for m in forward["messages"]] == [3, 4, 5]
    assert forward["has_more"] is True
    last = await harness.rpc(
        "messaging.history", {"conversation_id": "conv-a", "after_seq": 5, "limit": 2}
    )
    assert ([m["seq"] for m in last["messages"]], last["has_more"]) == ([6, 7], False)

    backward = await harness.rpc(
        "messaging.history", {"conversation_id": "conv-a", "before_seq": 6, "limit": 3}
    )
    assert [m["seq"] for m in backward["messages"]] == [5, 4, 3]
    assert backward["has_more"] is True
    first = await harness.rpc(
        "messaging.history", {"conversation_id": "conv-a", "before_seq": 3, "limit": 5}
    )
    assert ([m["seq"] for m in first["messages"]], first["has_more"]) == ([2, 1], False)


async def test_history_items_have_the_api_shape(harness: Harness) -> None:
    command = send_command("conv-a", urgent=True)
    await publish_command(harness.bus, command)
    await harness.tap.count("message.stored", 1)

    [item] = (await harness.rpc("messaging.history", {"conversation_id": "conv-a"}))["messages"]
    assert set(item) == {
        "message_id",
        "conversation_id",
        "seq",
        "sender_account_id",
        "sender_device_id",
        "server_ts",
        "urgent",
        "deleted",
        "envelope",
    }
    assert item["envelope"] == command.data.envelope.model_dump()
    assert item["urgent"] is True
    assert item["server_ts"].endswith("Z")
    empty = await harness.rpc("messaging.history", {"conversation_id": "conv-unknown"})
    assert empty == {"messages": [], "has_more": False}


async def test_the_typed_contract_round_trips_history_summary_and_lookup(
    harness: Harness,
) -> None:
    [mid] = await stored(harness, "conv-a", 1)
    rpc = RpcClient.of(harness.bus)

    page = await rpc.call(HISTORY, HistoryQuery(conversation_id="conv-a"))
    summary = await rpc.call(
        SUMMARY, SummaryQuery(account_id="acct-x", conversation_ids=["conv-a"])
    )
    found = await rpc.call(MESSAGE, MessageLookup(conversation_id="conv-a", message_id=mid))

    assert isinstance(page, HistoryPage)
    assert [(m.message_id, m.seq, m.deleted) for m in page.messages] == [(mid, 1, False)]
    assert page.messages[0].envelope is not None
    assert summary.conversations["conv-a"].last_seq == 1
    assert (found.found, found.sender_account_id, found.deleted) == (True, "acct-client", False)


async def test_history_refuses_bad_requests_with_a_code(harness: Harness) -> None:
    for bad in (
        {"conversation_id": "conv-a", "limit": 201},
        {"conversation_id": "conv-a", "limit": 0},
        {"conversation_id": "conv-a", "after_seq": 1, "before_seq": 5},
        {"after_seq": 1},
        # Past the store's signed 64-bit integers: refused, not an `internal` from the driver.
        {"conversation_id": "conv-a", "after_seq": 2**63},
        {"conversation_id": "conv-a", "before_seq": 2**63},
        {"conversation_id": "conv-a", "after_seq": 10**40},
        {"conversation_id": "conv-a", "limit": 2**63},
        {"conversation_id": "conv-a", "after_seq": -1},
    ):
        with pytest.raises(RpcError) as caught:
            await harness.rpc("messaging.history", bad)
        assert caught.value.code == "invalid_request"


async def test_summary_reports_last_seq_and_own_read_marker(harness: Harness) -> None:
    await stored(harness, "conv-a", 3)
    await publish_command(harness.bus, read_command("conv-a", "acct-coach", 2))
    await harness.tap.count("receipt.read", 1)

    coach = await harness.rpc(
        "messaging.summary",
        {"account_id": "acct-coach", "conversation_ids": ["conv-a", "conv-empty"]},
    )
    assert coach == {
        "conversations": {
            "conv-a": {"last_seq": 3, "read_up_to": 2},
            "conv-empty": {"last_seq": 0, "read_up_to": 0},
        }
    }
    client = await harness.rpc(
        "messaging.summary", {"account_id": "acct-client", "conversation_ids": ["conv-a"]}
    )
    assert client["conversations"]["conv-a"] == {"last_seq": 3, "read_up_to": 0}


async def test_message_lookup_answers_existence_sender_and_deletion(harness: Harness) -> None:
    [mid] = await stored(harness, "conv-a", 1)
    query = {"conversation_id": "conv-a", "message_id": mid}
    assert await harness.rpc("messaging.message", query) == {
        "found": True,
        "sender_account_id": "acct-client",
        "seq": 1,
        "deleted": False,
    }
    await publish_command(harness.bus, delete_command("conv-a", mid, "acct-client"))
    await harness.tap.count("message.deleted", 1)
    assert (await harness.rpc("messaging.message", query))["deleted"] is True
    missing = {"conversation_id": "conv-b", "message_id": mid}
    assert await harness.rpc("messaging.message", missing) == {"found": False}


async def test_calls_without_a_server_are_unavailable_at_once(
    infra: Infra, clean_broker: Topology
) -> None:
    async with driver_bus(infra.amqp_url, clean_broker) as bus:
        started = time.monotonic()
        with pytest.raises(UnavailableError):
            await RpcClient.of(bus).call("messaging.history", {"conversation_id": "c"})
        assert time.monotonic() - started < 1.0


async def test_the_rpc_facade_carries_correlation_errors_and_timeouts(
    infra: Infra, clean_broker: Topology
) -> None:
    seen: list[str | None] = []

    async def echo(request: dict[str, Any]) -> dict[str, Any]:
        seen.append(current_correlation_id())
        return {"echo": request}

    async def slow(_: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(2)
        return {}

    async def database_down(_: dict[str, Any]) -> dict[str, Any]:
        raise AutoReconnect("connection refused")

    async def bug(_: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("oops")

    routes = {"t.echo": echo, "t.slow": slow, "t.down": database_down, "t.bug": bug}
    queue = clean_broker.name("test.rpc")  # no service's: deleted here, not by `clean_broker`
    async with (
        _deleted_afterwards(infra.amqp_url, queue),  # once the buses below are closed
        driver_bus(infra.amqp_url, clean_broker) as server,
        driver_bus(infra.amqp_url, clean_broker) as caller,
    ):
        await serve_rpc(server, queue, routes)
        client = RpcClient.of(caller)
        assert RpcClient.of(caller) is client
        with correlation("req-77"):
            replies = await asyncio.gather(*(client.call("t.echo", {"n": n}) for n in range(20)))
        assert [r["echo"]["n"] for r in replies] == list(range(20))
        assert set(seen) == {"req-77"}

        with pytest.raises(UnavailableError):
            await client.call("t.slow", {}, timeout=0.3)
        with pytest.raises(UnavailableError):
            await client.call("t.down", {})
        with pytest.raises(RpcError) as caught:
            await client.call("t.bug", {})
        assert caught.value.code == "internal"
        assert (await client.call("t.echo", {"after": "errors"}))["echo"] == {"after": "errors"}


@asynccontextmanager
async def _deleted_afterwards(amqp_url: str, queue: str) -> AsyncIterator[None]:
    try:
        yield
    finally:
        connection = await connect_any(amqp_url)
        async with connection:
            await (await connection.channel()).queue_delete(queue)
