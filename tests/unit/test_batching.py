"""Coalesced writes and requests: one round trip for concurrent callers, each sees its own part."""

from __future__ import annotations

import asyncio

from shared.batching import Coalescer, KeyedLookup


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


async def test_concurrent_keyed_lookups_share_one_fetch_and_see_only_their_keys() -> None:
    fetched: list[set[str]] = []

    async def fetch(keys: set[str]) -> dict[str, int]:
        fetched.append(set(keys))
        await asyncio.sleep(0.01)
        return {k: len(k) for k in keys if k != "absent"}

    lookup: KeyedLookup[str, int] = KeyedLookup(fetch)
    first, second, none = await asyncio.gather(
        lookup(["a", "bb"]), lookup(["bb", "absent"]), lookup([])
    )
    assert (first, second, none) == ({"a": 1, "bb": 2}, {"bb": 2}, {})
    assert fetched == [{"a", "bb", "absent"}]
    # A lookup made while a fetch runs is never answered by it: it waits for the next one
    # (a read after a write must see the write).
    running = asyncio.create_task(lookup(["a"]))
    await asyncio.sleep(0.001)
    assert await lookup(["ccc"]) == {"ccc": 3}
    await running
    assert fetched[1:] == [{"a"}, {"ccc"}]
