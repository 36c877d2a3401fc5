"""Coalesced acks (shared/acks.py): one `multiple` ack for what is done in order, never one that
covers a message still in hand or left for redelivery."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import cast

from aio_pika.abc import AbstractIncomingMessage

from shared.acks import Acks


@dataclass
class Wire:
    """What reached the broker, in order: (channel, tag, multiple)."""

    frames: list[tuple[str, int, bool]] = field(default_factory=list)


@dataclass(eq=False)
class FakeChannel:
    name: str


@dataclass
class FakeMessage:
    channel: FakeChannel
    delivery_tag: int
    wire: Wire
    routing_key: str = "k"

    async def ack(self, multiple: bool = False) -> None:
        self.wire.frames.append((self.channel.name, self.delivery_tag, multiple))


def messages(wire: Wire, channel: FakeChannel, n: int) -> list[AbstractIncomingMessage]:
    return [
        cast(AbstractIncomingMessage, FakeMessage(channel, tag, wire)) for tag in range(1, n + 1)
    ]


async def turn() -> None:
    """Let the end-of-turn flush and its writes run."""
    for _ in range(3):
        await asyncio.sleep(0)


async def test_messages_done_in_one_turn_are_acked_with_one_multiple_ack() -> None:
    wire, acks = Wire(), Acks()
    batch = messages(wire, FakeChannel("a"), 5)
    for m in batch:
        acks.started(m)
    for m in batch:
        acks.done(m)
    await turn()
    assert wire.frames == [("a", 5, True)]


async def test_a_message_still_in_hand_is_never_covered() -> None:
    wire, acks = Wire(), Acks()
    m1, m2, m3, m4 = messages(wire, FakeChannel("a"), 4)
    for m in (m1, m2, m3, m4):
        acks.started(m)
    acks.done(m1)
    acks.done(m3)
    acks.done(m4)
    await turn()
    # 1 below the one in hand (2) as a prefix; 3 and 4 on their own, not held back.
    assert sorted(wire.frames) == [("a", 1, False), ("a", 3, False), ("a", 4, False)]
    acks.done(m2)
    await turn()
    assert wire.frames[-1] == ("a", 2, False)


async def test_a_message_left_for_redelivery_stays_unacked() -> None:
    wire, acks = Wire(), Acks()
    left, after = messages(wire, FakeChannel("a"), 2)
    acks.started(left)  # abandoned while closing: never done, never settled
    acks.started(after)
    acks.done(after)
    await acks.flush()
    assert wire.frames == [("a", 2, False)]


async def test_a_rejected_message_does_not_hold_the_others_back() -> None:
    wire, acks = Wire(), Acks()
    rejected, m2, m3 = messages(wire, FakeChannel("a"), 3)
    for m in (rejected, m2, m3):
        acks.started(m)
    acks.settled(rejected)  # its reject went out already
    acks.done(m2)
    acks.done(m3)
    await turn()
    assert wire.frames == [("a", 3, True)]


async def test_each_channel_is_acked_on_its_own_tags() -> None:
    wire, acks = Wire(), Acks()
    a = messages(wire, FakeChannel("a"), 2)
    b = messages(wire, FakeChannel("b"), 1)
    for m in [*a, *b]:
        acks.started(m)
        acks.done(m)
    await turn()
    assert sorted(wire.frames) == [("a", 2, True), ("b", 1, False)]


async def test_flush_sends_what_is_pending_before_a_close() -> None:
    wire, acks = Wire(), Acks()
    [m] = messages(wire, FakeChannel("a"), 1)
    acks.started(m)
    acks.done(m)
    await acks.flush()
    assert wire.frames == [("a", 1, False)]
    await turn()
    assert wire.frames == [("a", 1, False)]  # and never twice
