"""Coalesced writes and requests: one round trip for concurrent callers, each sees its own part."""

from __future__ import annotations

import asyncio

from shared.batching import Coalescer


async def test_coalesced_requests_run_once_per_round_and_answer_each_caller() -> None:
    rounds: list[list[str]] = []

    async def run(arguments: list[str]) -> list[str]:
        rounds.append(arguments)
        await asyncio.sleep(0.01)
        return [a.upper() for a in arguments]

    call: Coalescer[str, str] = Coalescer(run)
    first = await asyncio.gather(call("a"), call("b"), call("c"))
    assert first == ["A", "B", "C"]
    assert rounds == [["a", "b", "c"]]
    # Callers arriving while a round runs form the next one.
    running = asyncio.create_task(call("d"))
    await asyncio.sleep(0.001)
    later = await asyncio.gather(call("e"), call("f"))
    assert (await running, later) == ("D", ["E", "F"])
    assert rounds[1:] == [["d"], ["e", "f"]]


async def test_a_failed_round_reaches_every_caller_and_the_next_round_runs() -> None:
    calls = 0

    async def run(arguments: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise TimeoutError("no answer")
        return arguments

    call: Coalescer[int, int] = Coalescer(run)
    results = await asyncio.gather(call(1), call(2), return_exceptions=True)
    assert all(isinstance(r, TimeoutError) for r in results)
    assert await call(3) == 3
