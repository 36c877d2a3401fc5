"""The hand-off of events to the app, with at-least-once delivery up to the app's own loop.

A message counts as stored (acked to the server, its ``seq`` written to the keystore)
only when the app comes back for the next event after receiving it, so a crash
in the middle of handling one is re-delivered after restart instead of lost.

``seq`` bookkeeping follows API.md: after an ``after_seq`` sync returned seq N, nothing
at or below N can appear later, so ``last_seq`` may jump to N. A pushed message only
advances it when it is the next one in line; one that arrives ahead of a gap is kept
as "seen" and the caller is told to sync the gap, because gaps are legal and cannot
be told apart from a delivery still on its way.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

from haven_client.events import Event
from haven_client.keystore import Keystore

_SAVE_EVERY = 50


@dataclasses.dataclass(frozen=True)
class _Entry:
    event: Event | None
    conversation_id: str | None = None
    message_id: str | None = None
    advance_to: int | None = None
    ack: bool = False
    stop: bool = False


class Inbox:
    def __init__(self, store: Keystore, ack: Callable[[str], Awaitable[None]]) -> None:
        self._store = store
        self._ack = ack
        self._queue: asyncio.Queue[_Entry] = asyncio.Queue()
        self._high: dict[str, int] = {}
        self._inflight: set[str] = set()
        self._handed_out: _Entry | None = None
        self._unsaved = 0

    def emit(self, event: Event) -> None:
        """A notice that needs no commit (read receipts, key changes, connection state)."""
        self._queue.put_nowait(_Entry(event))

    def high_water(self, conversation_id: str) -> int:
        """Everything up to here is handed out or queued; sync from here."""
        return max(self._high.get(conversation_id, 0), self._store.last_seq(conversation_id))

    def is_duplicate(self, conversation_id: str, message_id: str, seq: int) -> bool:
        return (
            seq <= self._store.last_seq(conversation_id)
            or message_id in self._inflight
            or self._store.has_seen(conversation_id, message_id)
        )

    def deliver_synced(
        self, conversation_id: str, message_id: str, seq: int, event: Event | None
    ) -> None:
        """An ``after_seq`` sync item (``event`` None for a duplicate): complete up to ``seq``."""
        self._high[conversation_id] = max(self.high_water(conversation_id), seq)
        if event is not None:
            self._inflight.add(message_id)
        self._queue.put_nowait(_Entry(event, conversation_id, message_id, advance_to=seq))

    def deliver_pushed(
        self, conversation_id: str, message_id: str, seq: int, event: Event | None
    ) -> bool:
        """A WebSocket delivery; returns True when a gap before it should be synced."""
        if event is None:
            # Acked when this marker commits, i.e. after the first copy did (FIFO).
            self._queue.put_nowait(_Entry(None, conversation_id, message_id, ack=True))
            return False
        high = self.high_water(conversation_id)
        in_line = seq == high + 1
        if in_line:
            self._high[conversation_id] = seq
        self._inflight.add(message_id)
        entry = _Entry(event, conversation_id, message_id, seq if in_line else None, ack=True)
        self._queue.put_nowait(entry)
        return seq > high + 1

    async def get(self) -> Event | None:
        """The next event; commits the previous one first. None once the inbox is closed."""
        await self._commit_handed_out()
        while True:
            entry = await self._queue.get()
            if entry.stop:
                return None
            if entry.event is None:
                await self._commit(entry)
                continue
            self._handed_out = entry
            return entry.event

    async def close(self) -> None:
        """Commit what the app already has, save, and end ``events()``."""
        await self._commit_handed_out()
        self._store.save()
        self._unsaved = 0
        self._queue.put_nowait(_Entry(None, stop=True))

    async def _commit_handed_out(self) -> None:
        entry, self._handed_out = self._handed_out, None
        if entry is not None:
            await self._commit(entry)

    async def _commit(self, entry: _Entry) -> None:
        if entry.conversation_id is not None and entry.advance_to is not None:
            self._store.advance_seq(entry.conversation_id, entry.advance_to)
        if entry.message_id is not None:
            if entry.conversation_id is not None:
                self._store.remember(entry.conversation_id, entry.message_id)
            self._inflight.discard(entry.message_id)
        self._unsaved += 1
        if self._unsaved >= _SAVE_EVERY or self._queue.empty():
            self._store.save()
            self._unsaved = 0
        if entry.ack and entry.message_id is not None:
            await self._ack(entry.message_id)
