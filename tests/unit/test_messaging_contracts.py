"""The cross-service contracts: bus message factories, RPC routes, bindings, supervised loops."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any, cast

import pydantic
import pytest

from services.messaging.consumers import SERVICE as MESSAGING
from services.notification.consumers import SERVICE as NOTIFICATION
from shared.bus import Bus
from shared.commands import COMMAND_TYPES, MarkRead, ReadData, SendMessage, UnreadableSend
from shared.consumers import consume_events
from shared.contracts import (
    EXPORT,
    HISTORY,
    MAX_INT64,
    MESSAGE,
    ExportQuery,
    HistoryPage,
    HistoryQuery,
    MessageLookupReply,
)
from shared.errors import UnavailableError
from shared.events import (
    DeviceAdded,
    DeviceData,
    DeviceUpdated,
    MessageRejected,
    RejectedData,
    derive_event_id,
)
from shared.logging import correlation
from shared.rpc_server import _respond
from shared.supervise import Backoff, supervised
from shared.topology import EVENT_CONSUMERS, Topology, queue_specs
from shared.wire import MessageItem, WireEnvelope
from tests.support.messaging import send_command

DEVICE = DeviceData(account_id="a1", device_id="d1")


def test_an_event_derives_its_id_and_takes_the_requests_correlation_id() -> None:
    with correlation("req-1"):
        event = DeviceAdded.create(DEVICE)

    assert event.event_id == derive_event_id("device.added", "d1")
    assert (event.type, event.correlation_id) == ("device.added", "req-1")
    assert DeviceAdded.create(DEVICE).event_id == event.event_id  # the same fact, the same id


def test_an_event_that_is_new_every_time_gets_a_new_id_every_time() -> None:
    assert DeviceUpdated.create(DEVICE).event_id != DeviceUpdated.create(DEVICE).event_id


def test_another_envelope_rejected_under_one_message_id_is_another_rejection() -> None:
    data = RejectedData(
        conversation_id="c1",
        message_id="m1",
        sender_account_id="a1",
        sender_device_id="d1",
        code="conflict",
        detail="taken",
    )
    first = MessageRejected.of_envelope(data, "sig-1")
    assert first.event_id == derive_event_id("message.rejected", "c1:m1:conflict:sig-1")
    assert MessageRejected.of_envelope(data, "sig-2").event_id != first.event_id


def test_a_command_derives_its_id_routes_by_shard_and_is_named_as_an_imperative() -> None:
    with correlation("req-2"):
        read = MarkRead.create(ReadData(conversation_id="c1", account_id="a1", up_to_seq=4))

    assert (read.command_id, read.correlation_id) == ("read:c1:a1:4", "req-2")
    assert read.type == "read.mark"
    assert read.routing_key(4).startswith("read.mark.")
    send = send_command("c1", "m1")
    assert send.command_id == "c1:m1"
    assert set(COMMAND_TYPES) == {"message.send", "message.delete", "read.mark"}


def test_every_command_type_is_bound_on_every_shard() -> None:
    topology = Topology(namespace="t.", command_shards=2)
    bindings = {key for spec in queue_specs(topology) for _, key in spec.bindings}
    assert {f"{kind}.{shard}" for kind in COMMAND_TYPES for shard in (0, 1)} <= bindings
    names = {spec.name for spec in queue_specs(topology)}
    assert {topology.events_queue(s) for s in (MESSAGING, NOTIFICATION)} <= names
    assert set(EVENT_CONSUMERS) == {MESSAGING, NOTIFICATION}


async def test_a_handler_map_naming_an_unknown_event_is_refused() -> None:
    async def handler(_: object) -> None: ...

    with pytest.raises(ValueError, match=r"device\.exploded"):
        await consume_events(cast(Bus, object()), "notification", {"device.exploded": handler})


def test_the_wire_envelope_has_exactly_the_haven_v1_fields() -> None:
    envelope = send_command("c1").data.envelope
    wire = envelope.model_dump()
    assert set(wire) == {
        "message_id",
        "sender_device_id",
        "alg",
        "urgent",
        "nonce",
        "ciphertext",
        "keys",
        "commitment",
        "signature",
    }
    with pytest.raises(pydantic.ValidationError):
        WireEnvelope.model_validate({**wire, "note": "x"})
    with pytest.raises(pydantic.ValidationError):
        WireEnvelope.model_validate({**wire, "keys": {}})


def test_a_send_that_fails_validation_still_names_its_sender() -> None:
    command = send_command("c1", correlation_id="req-3")
    body = command.model_dump(mode="json")
    body["data"]["envelope"].pop("nonce")
    with pytest.raises(pydantic.ValidationError):
        SendMessage.model_validate(body)

    sent = UnreadableSend.of(pydantic.TypeAdapter(dict[str, Any]).dump_json(body))

    assert sent is not None
    assert (sent.data.sender_device_id, sent.correlation_id) == ("dev-client", "req-3")
    assert UnreadableSend.of(b'{"type": "message.send", "data": {}}') is None


async def test_a_route_parses_the_request_and_renders_the_reply_without_nulls() -> None:
    seen: list[HistoryQuery] = []
    item = MessageItem(
        message_id="m1",
        conversation_id="c1",
        seq=1,
        sender_account_id="a1",
        sender_device_id="d1",
        server_ts=datetime(2026, 5, 1, 12, 0, 0, 125000, tzinfo=UTC),
        urgent=False,
        deleted=True,
    )

    async def history(query: HistoryQuery) -> HistoryPage:
        seen.append(query)
        return HistoryPage(messages=[item], has_more=False)

    name, answer = HISTORY.serve(history)
    reply = await answer({"conversation_id": "c1", "after_seq": 3})

    assert name == "messaging.history"
    assert seen == [HistoryQuery(conversation_id="c1", after_seq=3, limit=50)]
    assert reply["messages"][0]["server_ts"] == "2026-05-01T12:00:00.125000Z"
    assert "envelope" not in reply["messages"][0]
    with pytest.raises(pydantic.ValidationError):
        await answer({"conversation_id": "c1", "after_seq": 1, "before_seq": 2})


async def test_history_cursors_past_signed_64_bits_are_refused_before_the_handler() -> None:
    """The store's integers are signed 64-bit: a larger cursor is the caller's mistake
    (`invalid_request`), never a driver failure in the handler (`internal`)."""
    called: list[object] = []

    async def handler(query: object) -> Any:
        called.append(query)
        raise AssertionError("the handler must not see it")

    routes = dict([HISTORY.serve(handler), EXPORT.serve(handler)])
    for route, bad in (
        ("messaging.history", {"conversation_id": "c1", "after_seq": MAX_INT64 + 1}),
        ("messaging.history", {"conversation_id": "c1", "before_seq": MAX_INT64 + 1}),
        ("messaging.history", {"conversation_id": "c1", "after_seq": 10**40}),
        ("messaging.history", {"conversation_id": "c1", "limit": MAX_INT64 + 1}),
        (
            "messaging.export",
            {"conversation_ids": ["c1"], "after": {"conversation_id": "c1", "seq": 2**64}},
        ),
    ):
        reply = json.loads(await _respond(routes, route, json.dumps(bad).encode()))
        assert reply["error"]["code"] == "invalid_request", (route, bad, reply)
        assert str(MAX_INT64 + 1) not in reply["error"]["detail"]  # never echoes the value
    assert called == []
    edge = HistoryQuery(conversation_id="c1", before_seq=MAX_INT64)
    assert edge.before_seq == MAX_INT64
    after = ExportQuery(conversation_ids=["c1"], after={"conversation_id": "c1", "seq": MAX_INT64})
    assert after.after is not None and after.after.seq == MAX_INT64


async def test_a_lookup_of_a_missing_message_answers_found_false_only() -> None:
    async def missing(_: object) -> MessageLookupReply:
        return MessageLookupReply(found=False)

    _, answer = MESSAGE.serve(missing)
    assert await answer({"conversation_id": "c1", "message_id": "m1"}) == {"found": False}


async def test_a_supervised_body_is_retried_while_transient_and_rerun_when_lost() -> None:
    runs: list[str] = []

    async def body() -> None:
        runs.append("run")
        if len(runs) <= 2:
            raise UnavailableError("broker away")
        if len(runs) == 4:
            raise KeyError("a bug")  # not transient: ends the loop

    with pytest.raises(KeyError):
        await asyncio.wait_for(supervised("t", body, retry=Backoff(0.001, 0.002)), 2)
    assert len(runs) == 4
