"""Turns WebSocket frames and ``after_seq`` syncs into events, one job at a time.

All work runs in one task so that sync pages and pushed messages of a conversation
never interleave: the ``Inbox`` sees them in the order they were processed, which
keeps its ``seq`` bookkeeping simple and correct. Transient failures (network, 503)
leave the message un-acked and schedule a later sync; nothing is marked broken
because the network hiccupped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from pydantic import ValidationError

from haven_client.api import HavenApi
from haven_client.conversations import Conversations
from haven_client.directory import Directory
from haven_client.errors import HavenError, RetryLater, UnknownConversation
from haven_client.events import (
    CoachAway,
    DevicesChanged,
    InvalidMessage,
    MessageDeleted,
    MessageRejected,
    ReadReceipt,
    RelationshipChanged,
    RetentionChanged,
    UrgentAttempt,
)
from haven_client.historyevents import account_notice, device_expiring, link_offered
from haven_client.inbox import Inbox
from haven_client.models import MessageItem
from haven_client.opener import Opener
from haven_client.trust import Trust

log = logging.getLogger("haven_client.receiver")
PAGE = 200
_TRANSIENT = (aiohttp.ClientError, OSError, TimeoutError, RetryLater)
_SYNC_ALL = "*"


class Receiver:
    def __init__(
        self,
        api: HavenApi,
        conversations: Conversations,
        opener: Opener,
        inbox: Inbox,
        directory: Directory,
        trust: Trust,
        *,
        coach_away: Callable[[dict[str, Any]], Awaitable[CoachAway]] | None = None,
        retry_delay: float = 2.0,
    ) -> None:
        self._api = api
        self._conversations = conversations
        self._opener = opener
        self._inbox = inbox
        self._directory = directory
        self._trust = trust
        self._coach_away = coach_away
        self._retry_delay = retry_delay
        self._jobs: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._timers: set[asyncio.Task[None]] = set()

    def push_frame(self, frame: dict[str, Any]) -> None:
        self._jobs.put_nowait(frame)

    def request_sync(self, conversation_id: str = _SYNC_ALL) -> None:
        self._jobs.put_nowait({"type": "_sync", "conversation_id": conversation_id})

    async def run(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                await self._handle(job)
            except _TRANSIENT as exc:
                log.warning("receive_job_failed_transient type=%s error=%r", job.get("type"), exc)
                self._later(job)
            except (HavenError, ValidationError, KeyError, ValueError, TypeError) as exc:
                # A broken answer from the server must not stop every later delivery.
                log.error("receive_job_failed type=%s error=%r", job.get("type"), exc)

    async def close(self) -> None:
        for timer in list(self._timers):
            timer.cancel()

    async def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind in ("ready", "resync"):
            await self.sync_all()
        elif kind == "_sync":
            target = frame["conversation_id"]
            await (self.sync_all() if target == _SYNC_ALL else self.sync(target))
        elif kind == "message":
            await self._pushed(frame.get("message"))
        elif kind == "devices_changed":
            await self._devices_changed(str(frame.get("account_id")))
        elif kind == "relationship":
            await self._relationship(frame)
        elif kind == "coach_away" and self._coach_away is not None:
            self._inbox.emit(await self._coach_away(frame))
        elif kind == "account":
            self._account(frame)
        else:
            self._notice(kind, frame)

    # --- sync ---------------------------------------------------------------------------

    async def sync_all(self) -> None:
        for conversation in await self._conversations.refresh():
            await self.sync(conversation.conversation_id)

    async def sync(self, conversation_id: str) -> None:
        """Everything after the high-water mark, page by page, in ``seq`` order."""
        conversation = await self._conversations.get(conversation_id)
        while True:
            after = self._inbox.high_water(conversation_id)
            page = await self._api.history(conversation_id, after_seq=after, limit=PAGE)
            fresh = sorted((m for m in page.messages if m.seq > after), key=lambda m: m.seq)
            for item in fresh:
                if self._inbox.is_duplicate(conversation_id, item.message_id, item.seq):
                    self._inbox.deliver_synced(conversation_id, item.message_id, item.seq, None)
                    continue
                event = await self._opener.open_item(item, conversation)
                self._inbox.deliver_synced(conversation_id, item.message_id, item.seq, event)
            if not page.has_more or not fresh:
                return  # an answer that does not advance would otherwise loop forever

    # --- frames ---------------------------------------------------------------------------

    async def _pushed(self, raw: object) -> None:
        try:
            item = MessageItem.model_validate(raw)
        except ValidationError as exc:
            self._inbox.emit(_malformed(raw, str(exc)))
            return
        try:
            conversation = await self._conversations.get(item.conversation_id)
        except UnknownConversation:
            self._inbox.emit(_malformed(raw, "not one of this account's conversations"))
            return
        cid, mid = conversation.conversation_id, item.message_id
        if self._inbox.is_duplicate(cid, mid, item.seq):
            self._inbox.deliver_pushed(cid, mid, item.seq, None)
            return
        event = await self._opener.open_item(item, conversation)
        if self._inbox.deliver_pushed(cid, mid, item.seq, event):
            await self.sync(cid)

    async def _devices_changed(self, account_id: str) -> None:
        """Refetch keys and recompute safety numbers now, so a change is surfaced at once."""
        self._directory.invalidate(account_id)
        self._inbox.emit(DevicesChanged(account_id=account_id))
        own = self._trust.own_account_id()
        for conversation in self._conversations.known():
            for participant in self._trust.counterparts(conversation):
                if account_id in (own, participant.account_id):
                    # None while a side has no device: nothing to compare, nothing to report.
                    await self._trust.number_if_any(participant, fresh=True)

    async def _relationship(self, frame: dict[str, Any]) -> None:
        conversation_id = str(frame.get("conversation_id"))
        status = str(frame.get("status"))
        await self._conversations.refresh()
        self._conversations.set_status(conversation_id, status)
        reason, resume_on = frame.get("reason"), frame.get("resume_on")
        self._inbox.emit(
            RelationshipChanged(
                conversation_id=conversation_id,
                status=status,
                reason=reason if isinstance(reason, str) else None,
                resume_on=resume_on if isinstance(resume_on, str) else None,
            )
        )
        if status == "active":
            await self.sync(conversation_id)

    def _account(self, frame: dict[str, Any]) -> None:
        """A password reset: this account's (its session ends) or a counterpart's (by name)."""
        account_id = str(frame.get("account_id"))
        names = [
            p.display_name or p.handle
            for c in self._conversations.known()
            if (p := c.participant(account_id)) is not None
        ]
        own = self._trust.own_account_id()
        self._inbox.emit(account_notice(frame, own, names[0] if names else ""))

    def _notice(self, kind: object, frame: dict[str, Any]) -> None:
        try:
            event = _NOTICES[str(kind)](frame)
        except KeyError:
            log.info("ws_frame_ignored type=%s", kind)
            return
        except (TypeError, ValueError) as exc:
            log.warning("ws_frame_malformed type=%s error=%s", kind, exc)
            return
        self._inbox.emit(event)

    def _later(self, job: dict[str, Any]) -> None:
        """Retry a failed job as a sync; the server redelivers anything not acked."""
        target = (
            job.get("message", {}).get("conversation_id") if job.get("type") == "message" else None
        )
        retry = {
            "type": "_sync",
            "conversation_id": target if isinstance(target, str) else _SYNC_ALL,
        }

        async def fire() -> None:
            await asyncio.sleep(self._retry_delay)
            self._jobs.put_nowait(retry)

        task = asyncio.get_running_loop().create_task(fire())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)


def _malformed(raw: object, reason: str) -> InvalidMessage:
    data = raw if isinstance(raw, dict) else {}

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    seq = data.get("seq")
    return InvalidMessage(
        conversation_id=text("conversation_id") or "",
        message_id=text("message_id") or "",
        seq=seq if isinstance(seq, int) else None,
        sender_account_id=text("sender_account_id"),
        sender_device_id=text("sender_device_id"),
        reason=f"malformed delivery: {reason}",
        field="message",
    )


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_NOTICES: dict[str, Any] = {
    "message_deleted": lambda f: MessageDeleted(
        conversation_id=str(f["conversation_id"]),
        message_id=str(f["message_id"]),
        seq=_optional_int(f.get("seq")),
    ),
    "read": lambda f: ReadReceipt(
        conversation_id=str(f["conversation_id"]),
        account_id=str(f["account_id"]),
        up_to_seq=int(f["up_to_seq"]),
    ),
    "retention": lambda f: RetentionChanged(
        conversation_id=str(f["conversation_id"]),
        retention_days=_optional_int(f.get("retention_days")),
    ),
    "urgent_attempt": lambda f: UrgentAttempt(conversation_id=str(f["conversation_id"])),
    "device_expiring": device_expiring,
    "link": link_offered,
    "message_rejected": lambda f: MessageRejected(
        conversation_id=str(f["conversation_id"]),
        message_id=str(f["message_id"]),
        code=str(f.get("code", "")),
        detail=str(f.get("detail", "")),
    ),
}
