"""Command lanes (shared/command_lanes.py): a lone command goes at once as itself; commands
that arrive while their lane waits for a confirm go together in its next publish, in order;
each request learns what became of the publish that carried its command."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from shared.command_lanes import CommandLanes, EncodedCommand
from shared.errors import UnavailableError, UnroutableError
from tests.support.messaging import send_command


class Broker:
    """Publishes that wait for a confirm released by the test, or fail on cue."""

    def __init__(self) -> None:
        self.published: list[tuple[str, list[str]]] = []
        self.confirm = asyncio.Event()
        self.fail: dict[int, Exception] = {}  # by publish number

    async def __call__(self, key: str, commands: Sequence[EncodedCommand]) -> None:
        number = len(self.published)
        self.published.append((key, [c.command.data.message_id for c in commands]))  # type: ignore[attr-defined]
        assert all(c.body == c.command.model_dump_json().encode() for c in commands)
        await self.confirm.wait()
        if number in self.fail:
            raise self.fail[number]


async def until(check: Any) -> None:
    async with asyncio.timeout(2):
        while not check():
            await asyncio.sleep(0)


async def one_then_queued(lanes: CommandLanes, broker: Broker, ids: list[str]) -> list[Any]:
    """Send `ids[0]`; while its publish waits for the confirm, the rest queue behind it; then
    the confirms come. What each send returned or raised, in order."""
    first = asyncio.create_task(lanes.send("k", send_command("conv-a", ids[0])))
    await until(lambda: broker.published)
    queued = [asyncio.create_task(lanes.send("k", send_command("conv-a", i))) for i in ids[1:]]
    await asyncio.sleep(0)
    broker.confirm.set()
    return await asyncio.gather(first, *queued, return_exceptions=True)


async def test_a_lone_command_is_published_at_once_by_itself() -> None:
    broker = Broker()
    broker.confirm.set()
    lanes = CommandLanes(broker)
    command = send_command("conv-a", "m1")
    await lanes.send("message.send.1", command)
    assert broker.published == [("message.send.1", ["m1"])]


async def test_commands_arriving_during_a_publish_go_together_in_order_in_the_next() -> None:
    broker = Broker()
    lanes = CommandLanes(broker)
    first = asyncio.create_task(lanes.send("k", send_command("conv-a", "m0")))
    await until(lambda: broker.published)
    rest = [
        asyncio.create_task(lanes.send("k", send_command("conv-a", f"m{i}"))) for i in (1, 2, 3)
    ]
    other = asyncio.create_task(lanes.send("other", send_command("conv-b", "x")))
    await until(lambda: len(broker.published) == 2)  # another lane is not held up
    assert not first.done() and not any(t.done() for t in rest)

    broker.confirm.set()
    await asyncio.gather(first, *rest, other)
    assert broker.published == [("k", ["m0"]), ("other", ["x"]), ("k", ["m1", "m2", "m3"])]


async def test_a_failed_publish_fails_exactly_the_requests_it_carried() -> None:
    broker = Broker()
    broker.fail = {1: UnavailableError("publish not confirmed"), 2: UnroutableError("k")}
    lanes = CommandLanes(broker, max_batch=2)
    results = await one_then_queued(lanes, broker, [f"m{i}" for i in range(6)])

    assert [ids for _, ids in broker.published] == [["m0"], ["m1", "m2"], ["m3", "m4"], ["m5"]]
    assert results[0] is None and results[5] is None
    assert all(isinstance(r, UnavailableError) for r in results[1:3])
    assert all(isinstance(r, UnroutableError) for r in results[3:5])


async def test_a_cancelled_request_leaves_the_others_and_the_lane_working() -> None:
    broker = Broker()
    lanes = CommandLanes(broker)
    first = asyncio.create_task(lanes.send("k", send_command("conv-a", "m0")))
    await until(lambda: broker.published)
    gone = asyncio.create_task(lanes.send("k", send_command("conv-a", "m1")))
    kept = asyncio.create_task(lanes.send("k", send_command("conv-a", "m2")))
    await asyncio.sleep(0)
    gone.cancel()
    broker.confirm.set()
    await asyncio.gather(first, kept)
    with pytest.raises(asyncio.CancelledError):
        await gone
    # Its command still went (its client got no answer and will send it again: idempotent).
    assert [ids for _, ids in broker.published] == [["m0"], ["m1", "m2"]]
    await lanes.send("k", send_command("conv-a", "m3"))  # the lane is free again
    assert broker.published[-1] == ("k", ["m3"])


async def test_a_batch_stops_at_its_byte_budget_and_a_large_command_goes_alone() -> None:
    broker = Broker()
    one = len(send_command("conv-a", "m0").model_dump_json().encode())
    await one_then_queued(
        CommandLanes(broker, max_bytes=2 * one + 10), broker, [f"m{i}" for i in range(6)]
    )
    assert [ids for _, ids in broker.published] == [["m0"], ["m1", "m2"], ["m3", "m4"], ["m5"]]

    broker.published.clear()
    broker.confirm.clear()
    await one_then_queued(CommandLanes(broker, max_bytes=10), broker, ["n0", "n1", "n2"])
    assert [ids for _, ids in broker.published] == [["n0"], ["n1"], ["n2"]]  # each too large
