"""The shard pipeline's ordering, batching and failure handling, with a fake batch handler."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest
from pymongo.errors import AutoReconnect, OperationFailure

from services.messaging.pipeline import ShardPipeline
from services.messaging.service import Job, Outcome
from shared.bus import Delivery
from shared.commands import UnreadableSend
from shared.errors import PermanentError, TransientError, UnavailableError
from shared.transient import is_transient
from tests.support.messaging import send_command


def delivery(conversation_id: str = "conv-a", message_id: str | None = None) -> Delivery:
    command = send_command(conversation_id, message_id)
    return Delivery(
        body=command.model_dump_json().encode(),
        routing_key="message.send.0",
        message_id=command.command_id,
        correlation_id=command.correlation_id,
        headers={},
        redelivered=False,
    )


def message_id(job: Job) -> str:
    return job.command.data.message_id  # type: ignore[union-attr]


class Recorder:
    """A batch handler that records what it got and can fail on cue."""

    def __init__(self, fail: object = None) -> None:
        self.batches: list[list[str]] = []
        self.running = 0
        self.overlapped = False
        self.fail = fail

    async def __call__(self, jobs: Sequence[Job]) -> list[Outcome]:
        self.running += 1
        self.overlapped |= self.running > 1
        try:
            self.batches.append([message_id(j) for j in jobs])
            await asyncio.sleep(0.01)
            if callable(self.fail):
                self.fail(jobs)
            return [None] * len(jobs)
        finally:
            self.running -= 1


async def submit_all(pipeline: ShardPipeline, deliveries: list[Delivery]) -> list[object]:
    tasks = [asyncio.create_task(pipeline.submit(d)) for d in deliveries]
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_one_shards_commands_are_handled_in_delivery_order_in_batches() -> None:
    handler = Recorder()
    pipeline = ShardPipeline(handle=handler, max_batch=8, linger=0.001)
    deliveries = [delivery(f"conv-{i % 3}") for i in range(30)]

    results = await submit_all(pipeline, deliveries)

    assert results == [None] * 30
    handled = [m for batch in handler.batches for m in batch]
    assert handled == [d.message_id.split(":")[1] for d in deliveries if d.message_id]
    assert max(len(b) for b in handler.batches) == 8
    assert len(handler.batches) < 30
    assert not handler.overlapped


async def test_shards_arriving_together_share_batches_and_each_keeps_its_order() -> None:
    """One pipeline serves all of a process's shards: quiet conversations on different shards
    share a batch (one set of store round trips), never overlapping, each in its own order."""
    handler = Recorder()
    pipeline = ShardPipeline(handle=handler, max_batch=64, linger=0.001)
    shards = [[delivery(f"conv-{shard}-{i % 2}") for i in range(5)] for shard in range(4)]

    async def consume(deliveries: list[Delivery]) -> list[object]:
        return await submit_all(pipeline, deliveries)  # a shard's consumer, as the bus runs it

    results = await asyncio.gather(*(consume(d) for d in shards))

    assert results == [[None] * 5] * 4
    assert len(handler.batches) < 4  # the shards did not each pay a batch of their own
    handled = [m for batch in handler.batches for m in batch]
    for deliveries in shards:
        mine = [d.message_id.split(":")[1] for d in deliveries if d.message_id]
        assert [m for m in handled if m in mine] == mine
    assert not handler.overlapped


async def test_transient_failures_retry_the_same_batch_in_place() -> None:
    failures = [AutoReconnect("down"), UnavailableError("no confirm")]

    def fail(_: Sequence[Job]) -> None:
        if failures:
            raise failures.pop(0)

    handler = Recorder(fail)
    pipeline = ShardPipeline(handle=handler, linger=0.01, retry_delay=0.01)

    results = await submit_all(pipeline, [delivery() for _ in range(3)])

    assert results == [None] * 3
    assert len(handler.batches) == 3
    assert handler.batches[0] == handler.batches[1] == handler.batches[2]


async def test_a_command_that_keeps_failing_is_isolated_and_dead_lettered() -> None:
    poison = delivery(message_id="poison")

    def fail(jobs: Sequence[Job]) -> None:
        if any(message_id(j) == "poison" for j in jobs):
            raise KeyError("a bug")

    given_up: list[str] = []

    async def announce(job: Job) -> None:
        given_up.append(message_id(job))

    handler = Recorder(fail)
    pipeline = ShardPipeline(handle=handler, linger=0.01, retry_delay=0.001, given_up=announce)
    before, after = delivery(), delivery()

    results = await submit_all(pipeline, [before, poison, after])

    assert results[0] is None
    assert results[2] is None
    assert isinstance(results[1], PermanentError)
    assert given_up == ["poison"]
    assert handler.batches[-1] == [after.message_id.split(":")[1]]  # type: ignore[union-attr]


async def test_a_permanent_outcome_reaches_the_bus_as_an_exception() -> None:
    async def reject_all(jobs: Sequence[Job]) -> list[Outcome]:
        return [PermanentError("invalid envelope") for _ in jobs]

    with pytest.raises(PermanentError, match="invalid envelope"):
        await ShardPipeline(handle=reject_all).submit(delivery())


async def test_an_undecodable_command_fails_permanently_without_echoing_its_values() -> None:
    body = b'{"type": "message.send", "command_id": "c", "data": {"envelope": "SECRET-CIPHERTEXT"}}'
    bad = Delivery(body, "message.send.0", "c", None, {}, redelivered=False)

    with pytest.raises(PermanentError) as caught:
        await ShardPipeline(handle=Recorder()).submit(bad)

    assert "SECRET" not in str(caught.value)
    assert "data.envelope" in str(caught.value)


async def test_an_invalid_send_that_names_its_sender_is_refused_to_that_sender() -> None:
    command = send_command("conv-a", correlation_id="req-9")
    body = command.model_dump(mode="json")
    del body["data"]["envelope"]["keys"]
    bad = Delivery(json.dumps(body).encode(), "message.send.0", "c", None, {}, redelivered=False)
    refused: list[tuple[UnreadableSend, str]] = []

    async def refuse(sent: UnreadableSend, detail: str) -> None:
        refused.append((sent, detail))

    with pytest.raises(PermanentError):
        await ShardPipeline(handle=Recorder(), refused=refuse).submit(bad)

    [(sent, detail)] = refused
    assert (sent.data.message_id, sent.correlation_id) == (command.data.message_id, "req-9")
    assert sent.data.signature == command.data.envelope.signature
    assert "data.envelope.keys" in detail


async def test_an_invalid_command_without_a_sender_is_refused_to_nobody() -> None:
    body = b'{"type": "message.send", "command_id": "c", "data": {}}'
    refused: list[object] = []

    async def refuse(sent: UnreadableSend, detail: str) -> None:
        refused.append(sent)

    with pytest.raises(PermanentError):
        await ShardPipeline(handle=Recorder(), refused=refuse).submit(
            Delivery(body, "message.send.0", "c", None, {}, redelivered=False)
        )
    assert refused == []


async def test_a_cancelled_submit_is_forgotten() -> None:
    release = asyncio.Event()
    handled: list[str] = []

    async def slow(jobs: Sequence[Job]) -> list[Outcome]:
        await release.wait()
        handled.extend(message_id(j) for j in jobs)
        return [None] * len(jobs)

    pipeline = ShardPipeline(handle=slow, max_batch=1, linger=0)
    first, second, third = delivery(), delivery(), delivery()
    tasks = [asyncio.create_task(pipeline.submit(d)) for d in (first, second, third)]
    await asyncio.sleep(0.01)
    tasks[1].cancel()
    release.set()
    await asyncio.gather(tasks[0], tasks[2])

    assert handled == [d.message_id.split(":")[1] for d in (first, third) if d.message_id]


def test_transient_errors_are_told_apart_from_bugs() -> None:
    assert is_transient(AutoReconnect("x"))
    assert is_transient(TransientError("x"))
    assert is_transient(UnavailableError("x"))
    assert is_transient(OperationFailure("stepped down", code=189))
    assert not is_transient(OperationFailure("bad update", code=9))
    assert not is_transient(KeyError("x"))


async def test_once_stopping_queued_commands_are_left_for_the_next_consumer() -> None:
    handler = Recorder()
    stopping = False
    pipeline = ShardPipeline(handle=handler, max_batch=2, linger=0, stopping=lambda: stopping)
    first = asyncio.create_task(pipeline.submit(delivery()))
    await asyncio.sleep(0)  # the first batch is under way
    rest = [asyncio.create_task(pipeline.submit(delivery())) for _ in range(4)]
    stopping = True

    assert await first is None
    results = await asyncio.gather(*rest, return_exceptions=True)
    assert all(isinstance(r, TransientError) for r in results)
    assert len(handler.batches) == 1


async def test_a_batch_failing_transiently_is_given_up_when_stopping() -> None:
    stopping = False

    def fail(_: Sequence[Job]) -> None:
        nonlocal stopping
        stopping = True
        raise AutoReconnect("database gone")

    pipeline = ShardPipeline(handle=Recorder(fail), retry_delay=0.001, stopping=lambda: stopping)

    with pytest.raises(TransientError, match="shutting down"):
        await pipeline.submit(delivery())


async def test_the_next_batch_is_stored_while_confirms_are_pending_but_acks_wait_for_them() -> None:
    confirms: list[asyncio.Future[None]] = []
    stored: list[list[str]] = []

    async def store_then_announce(jobs: Sequence[Job]) -> list[Outcome]:
        stored.append([message_id(j) for j in jobs])
        pending = [asyncio.get_running_loop().create_future() for _ in jobs]
        confirms.extend(pending)
        return list(pending)

    pipeline = ShardPipeline(handle=store_then_announce, max_batch=2, linger=0)
    first = [asyncio.create_task(pipeline.submit(delivery())) for _ in range(2)]
    await asyncio.sleep(0.01)
    second = [asyncio.create_task(pipeline.submit(delivery())) for _ in range(2)]
    await asyncio.sleep(0.01)
    # Later commands were stored without waiting for the earlier ones' confirms.
    assert sum(len(batch) for batch in stored) == 4
    assert not any(t.done() for t in first + second)  # nobody is acked before its confirm
    confirms[2].set_result(None)
    confirms[0].set_exception(UnavailableError("no confirm"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert second[0].done() and second[0].exception() is None
    with pytest.raises(UnavailableError):  # the bus retries it: found stored, re-announced
        await first[0]
    for confirm in confirms:
        if not confirm.done():
            confirm.set_result(None)
    await asyncio.gather(first[1], *second)


def batch_delivery(bodies: list[bytes]) -> Delivery:
    return Delivery(
        body=b"[" + b",".join(bodies) + b"]",
        routing_key="message.send.0",
        message_id="batch",
        correlation_id=None,
        headers={},
        redelivered=False,
    )


async def test_a_batch_is_handled_in_order_and_only_its_failures_are_dead_lettered() -> None:
    """One AMQP message of several commands (shared/command_lanes.py): each is a job of its
    own; one that does not validate and one that fails for good go to the dead letters alone,
    the rest are done, and the message is acked (submit returns)."""
    commands = [send_command("conv-a", f"m{i}") for i in range(4)]
    broken = commands[1].model_dump(mode="json")
    del broken["data"]["envelope"]["keys"]
    bodies = [c.model_dump_json().encode() for c in commands]
    bodies[1] = json.dumps(broken).encode()

    async def handle(jobs: Sequence[Job]) -> list[Outcome]:
        handled.extend(message_id(j) for j in jobs)
        return [
            PermanentError("handling failed repeatedly") if message_id(j) == "m2" else None
            for j in jobs
        ]

    handled: list[str] = []
    dead: list[tuple[bytes, str]] = []
    refused: list[str] = []

    async def dead_letter(body: bytes, reason: str) -> None:
        dead.append((body, reason))

    async def refuse(sent: UnreadableSend, reason: str) -> None:
        refused.append(sent.data.message_id)

    pipeline = ShardPipeline(handle=handle, dead_letter=dead_letter, refused=refuse)
    await pipeline.submit(batch_delivery(bodies))

    assert handled == ["m0", "m2", "m3"]
    assert refused == ["m1"]
    assert [(json.loads(body)["data"]["message_id"], reason) for body, reason in dead] == [
        ("m1", "invalid command: message.send.data.envelope.keys"),
        ("m2", "handling failed repeatedly"),
    ]


async def test_a_batch_that_is_not_a_list_of_commands_is_dead_lettered_whole() -> None:
    pipeline = ShardPipeline(handle=Recorder())
    with pytest.raises(PermanentError):
        await pipeline.submit(batch_delivery([b'{"type": "message.send"', b"2"]))
