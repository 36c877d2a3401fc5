"""Messaging's commands: store each message once with its seq, delete, and move read markers.

Knows nothing of AMQP: a batch of one shard's commands comes in, in delivery order, and one
outcome per command goes out. A raised error means "retry the whole batch": every step is
idempotent (stored messages are found again and their events re-published with the same
`event_id`), so a retry only costs a gap in the seqs.

A stored message's outcome is its batch's announcement in flight (`Announcing`): the batch
returns as soon as its messages are stored and their announcement started (deliveries to the
recipients' sockets and the `message.stored` events: services/messaging/delivery.py), so the
pipeline stores the next batch while the broker confirms this one's and the retention read
after the insert (`settle`) runs; each command is still acked only once both are done
(services/messaging/pipeline.py waits for it). Storage order, hence seq order, is untouched:
only that waiting overlaps. A batch holds the pipeline for two store round trips in a row: the
seq reservation (with the erased-senders read beside it) and the insert.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from services.messaging import documents as docs
from services.messaging.metrics import DUPLICATES, REJECTED, STORED
from services.messaging.repository import MessagingRepository
from shared.commands import (
    Command,
    DeleteMessage,
    MarkRead,
    SendData,
    SendMessage,
    SentBy,
    UnreadableSend,
)
from shared.errors import PermanentError, TransientError
from shared.events import (
    MessageDeleted,
    MessageRejected,
    MessageStored,
    ReceiptData,
    ReceiptRead,
)
from shared.mongo import Document

log = structlog.get_logger(__name__)

OutEvent = MessageStored | MessageDeleted | MessageRejected | ReceiptRead
Publish = Callable[[OutEvent], Awaitable[None]]
# Gives new message documents their `expires_at` before they are inserted, and re-checks them
# once they are (a retention change in between is re-applied): services/messaging/retention.py.
Stamp = Callable[[Sequence[Document]], Awaitable[None]]
# Which of these senders' accounts were deleted (services/messaging/erasure.py).
Erased = Callable[[Sequence[str]], Awaitable[set[str]]]


@dataclass(frozen=True)
class Stored:
    """A stored message to announce, with the correlation id of the command that sent it."""

    doc: Document
    correlation_id: str | None


# Announces a batch's stored messages (to the devices and notification: services/messaging/
# delivery.py); returns once the broker confirmed all of it.
Announce = Callable[[Sequence[Stored]], Awaitable[None]]
# Settles with None once the event is confirmed, or with the error that prevented it.
Announcing = asyncio.Future[None]
# None: done, ack; PermanentError: dead-letter; Announcing: ack once it settles with None.
Outcome = PermanentError | None | Announcing


@dataclass(frozen=True)
class Job:
    command: Command
    redelivered: bool = False


def conversation_of(job: Job) -> str:
    return job.command.data.conversation_id


def rounds(jobs: Sequence[Job]) -> list[list[int]]:
    """Positions grouped so that one round holds at most one step per conversation.

    A conversation's step is a run of consecutive sends or a single other command; rounds run
    one after another, so each conversation's commands keep their order while every
    conversation's sends in a round share one insert.
    """
    steps: dict[str, list[list[int]]] = {}
    for i, job in enumerate(jobs):
        own = steps.setdefault(conversation_of(job), [])
        if own and _is_send(job) and _is_send(jobs[own[-1][-1]]):
            own[-1].append(i)
        else:
            own.append([i])
    depth = max((len(s) for s in steps.values()), default=0)
    return [[i for s in steps.values() if r < len(s) for i in s[r]] for r in range(depth)]


class MessagingService:
    def __init__(
        self,
        *,
        repo: MessagingRepository,
        publish: Publish,
        stamp: Stamp | None = None,
        settle: Stamp | None = None,
        erased: Erased | None = None,
        announce: Announce | None = None,
    ) -> None:
        self._repo = repo
        self._publish = publish
        self._announce = announce or self._announce_each
        self._stamp = stamp
        self._settle = settle
        self._erased = erased

    async def handle(self, jobs: Sequence[Job]) -> list[Outcome]:
        outcomes: list[Outcome] = [None] * len(jobs)
        for positions in rounds(jobs):
            sends = [p for p in positions if _is_send(jobs[p])]
            others = [p for p in positions if p not in sends]
            stored, other = await asyncio.gather(
                self._store([jobs[p] for p in sends]),
                asyncio.gather(*(self._other(jobs[p]) for p in others)),
            )
            for position, outcome in zip(sends + others, stored + other, strict=True):
                outcomes[position] = outcome
        return outcomes

    async def _other(self, job: Job) -> Outcome:
        if isinstance(job.command, DeleteMessage):
            await self.delete(job.command)
        elif isinstance(job.command, MarkRead):
            await self.mark_read(job.command, redelivered=job.redelivered)
        return None

    async def _store(self, jobs: Sequence[Job]) -> list[Outcome]:
        """One round's sends: each conversation's new messages get consecutive seqs, in order."""
        commands = [job.command for job in jobs if isinstance(job.command, SendMessage)]
        # Only a redelivered command is likely to be stored already; any other duplicate (a
        # client's retried POST) is caught by the unique index on insert, at the price of a gap.
        again = {_key(c) for j in jobs if j.redelivered and isinstance(c := j.command, SendMessage)}
        # A valid command holds its place until its announcement replaces it.
        outcomes: list[Outcome | SendMessage] = []
        valid: list[SendMessage] = []
        storable: list[SendMessage] = []
        for command in commands:
            try:
                docs.check_envelope(command.data)
            except PermanentError as error:
                outcomes.append(error)
                continue
            outcomes.append(command)
            storable.append(command)
        # Whose account is erased, read while the seqs are reserved (one round trip of the batch
        # instead of two in a row); an erased sender's reserved seq stays unused: a gap.
        gone, (found, fresh) = await asyncio.gather(
            self._erased_senders(commands), self._prepare(storable, again)
        )
        for i, command in enumerate(commands):
            outcome = outcomes[i]
            if command.data.sender_account_id in gone:
                # Acked, not dead-lettered: the dead letters would keep its ciphertext.
                await self._reject(command, "account_deleted", "the sender's account is deleted")
                outcomes[i] = None
            elif isinstance(outcome, PermanentError):
                await self._reject(command, "invalid_request", str(outcome))
            else:
                valid.append(command)
        if gone:
            found = {k: d for k, d in found.items() if d["sender_account_id"] not in gone}
            fresh = [d for d in fresh if d["sender_account_id"] not in gone]
        stored, inserted = await self._persist(found, fresh)
        for command in valid:
            key = _key(command)
            ids = {"conversation_id": key[0], "message_id": key[1], "seq": stored[key]["seq"]}
            if key in inserted:
                STORED.inc()
                log.info("message_stored", correlation_id=command.correlation_id, **ids)
            else:
                DUPLICATES.inc()
                log.info("message_duplicate", correlation_id=command.correlation_id, **ids)
            inserted.discard(key)  # a second copy within the batch is a duplicate as well
        # One announcement for the batch's stored messages; each of their commands is acked once
        # it settled (services/messaging/pipeline.py).
        sends = [(o, stored[_key(o)]) for o in outcomes if isinstance(o, SendMessage)]
        # Announced while the retention is settled, and neither holds the next batch back: the
        # batch's commands are acked once both are done. Should either fail, the commands are
        # retried: they find their messages stored, announce them again under the same event
        # ids and settle them again (every stored message of the batch is settled, not only
        # those inserted now: at idle, one read either way).
        batch = None
        if sends:
            kept = [stored[key] for key in dict.fromkeys(_key(c) for c in valid)]
            batch = asyncio.ensure_future(self._announce_and_settle(sends, kept))
        announced: list[Outcome] = []
        for outcome in outcomes:
            if isinstance(outcome, SendMessage):
                assert batch is not None  # a valid send is among `sends`
                announced.append(batch)
            else:
                announced.append(outcome)
        return announced

    async def _announce_and_settle(
        self, sends: Sequence[tuple[SendMessage, Document]], kept: Sequence[Document]
    ) -> None:
        settle = self._settle
        settling = asyncio.ensure_future(settle(kept)) if settle is not None and kept else None
        try:
            # In this task, not a new one: its publishes go out before a later round's (a
            # delete of one of these messages in the same batch is announced after it).
            await self._announce_batch(sends)
        except BaseException:
            if settling is not None:
                settling.add_done_callback(_observed)
            raise
        if settling is not None:
            await settling

    async def _erased_senders(self, commands: Sequence[SendMessage]) -> set[str]:
        if self._erased is None or not commands:
            return set()
        return await self._erased(sorted({c.data.sender_account_id for c in commands}))

    async def _prepare(
        self, commands: Sequence[SendMessage], again: set[tuple[str, str]]
    ) -> tuple[dict[tuple[str, str], Document], list[Document]]:
        """The messages already stored among the redelivered ones (`again`: the keys worth
        looking up first), and numbered documents for the rest, to be inserted blind."""
        keys = list(dict.fromkeys(_key(c) for c in commands))  # the first copy in a batch wins
        stored = await self._repo.existing([k for k in keys if k in again])
        first = {_key(c): c for c in reversed(commands)}
        return stored, await self._numbered([first[k] for k in keys if k not in stored])

    async def _persist(
        self, stored: dict[tuple[str, str], Document], new_docs: list[Document]
    ) -> tuple[dict[tuple[str, str], Document], set[tuple[str, str]]]:
        """The stored document of every command's message, and which ones were inserted now."""
        result = await self._repo.insert(new_docs)
        if result.duplicate_seqs:
            for position in result.duplicate_seqs:
                await self._repo.repair_counter(new_docs[position]["conversation_id"])
            raise TransientError("a seq counter was behind the stored messages; repaired")
        lost = {_doc_key(new_docs[p]) for p in result.duplicate_ids}  # stored meanwhile
        if lost:
            stored |= await self._repo.existing(sorted(lost))
        inserted = {_doc_key(doc) for doc in new_docs} - lost
        stored |= {_doc_key(doc): doc for doc in new_docs if _doc_key(doc) in inserted}
        return stored, inserted

    async def _numbered(self, fresh: Sequence[SendMessage]) -> list[Document]:
        by_conversation: dict[str, list[SendMessage]] = {}
        for command in fresh:
            by_conversation.setdefault(command.data.conversation_id, []).append(command)
        tops = await self._repo.reserve({c: len(group) for c, group in by_conversation.items()})
        now = docs.server_now()
        new_docs = []
        for cid, group in by_conversation.items():
            first_seq = tops[cid] - len(group) + 1
            new_docs += [
                docs.message_document(c.data, first_seq + i, now) for i, c in enumerate(group)
            ]
        if self._stamp is not None:
            await self._stamp(new_docs)
        return new_docs

    async def _announce_batch(self, sends: Sequence[tuple[SendMessage, Document]]) -> None:
        """Announce each stored message once (a second copy in the batch is the same message);
        a conflicting envelope is refused to its sender; a deleted message is not announced."""
        ready: dict[tuple[str, str], Stored] = {}
        refusals = []
        for command, doc in sends:
            data = command.data
            ids = {"conversation_id": data.conversation_id, "message_id": data.message_id}
            if doc.get("signature") != docs.signature_of(data):
                log.warning("message_conflict", correlation_id=command.correlation_id, **ids)
                refusals.append(
                    self._reject(command, "conflict", "another envelope is stored under this id")
                )
            elif doc.get("deleted"):
                # Already deleted for everyone: its content must not resurface through a duplicate.
                log.info(
                    "message_duplicate_of_deleted", correlation_id=command.correlation_id, **ids
                )
            else:
                ready.setdefault(_key(command), Stored(doc, command.correlation_id))
        announce = self._announce(list(ready.values())) if ready else None
        await asyncio.gather(*refusals, *([announce] if announce is not None else []))

    async def _announce_each(self, stored: Sequence[Stored]) -> None:
        """Without an announcer: one `message.stored` event (with its envelope) per message."""
        await asyncio.gather(
            *(self._publish(docs.stored_event(s.doc, s.correlation_id)) for s in stored)
        )

    async def given_up(self, job: Job) -> None:
        """A send that goes to the dead letters without being stored: tell its sender."""
        if isinstance(job.command, SendMessage):
            await self._reject(job.command, "internal", "the message could not be stored")

    async def refused(self, sent: UnreadableSend, detail: str) -> None:
        """A send that failed validation goes to the dead letters unstored: tell its sender."""
        await self._reject_sent(sent.data, "invalid_request", detail, sent.correlation_id)

    async def _reject(self, command: SendMessage, code: str, detail: str) -> None:
        await self._reject_sent(command.data, code, detail, command.correlation_id)

    async def _reject_sent(
        self, sent: SendData | SentBy, code: str, detail: str, correlation_id: str | None
    ) -> None:
        REJECTED.labels(code=code).inc()
        await self._publish(docs.rejected_event(sent, code, detail, correlation_id))

    async def delete(self, command: DeleteMessage) -> None:
        data = command.data
        ids = {"conversation_id": data.conversation_id, "message_id": data.message_id}
        doc = await self._repo.find_message(data.conversation_id, data.message_id)
        if doc is None or doc["sender_account_id"] != data.requested_by:
            reason = "unknown" if doc is None else "not_sender"
            log.warning(
                "delete_ignored", reason=reason, correlation_id=command.correlation_id, **ids
            )
            return
        if not doc.get("deleted"):
            doc = await self._repo.tombstone(
                data.conversation_id, data.message_id, docs.server_now()
            )
            doc = doc or await self._repo.find_message(data.conversation_id, data.message_id)
            assert doc is not None
            log.info(
                "message_deleted", seq=doc["seq"], correlation_id=command.correlation_id, **ids
            )
        await self._publish(docs.deleted_event(doc, command.correlation_id))

    async def mark_read(self, command: MarkRead, *, redelivered: bool) -> None:
        """Markers never move down, nor past the last stored message."""
        data = command.data
        up_to = min(data.up_to_seq, await self._repo.last_seq(data.conversation_id))
        before = await self._repo.raise_marker(data.conversation_id, data.account_id, up_to)
        # Equal after a redelivery: this command may have moved it before a crash, so announce.
        if up_to > before or (redelivered and up_to == before > 0):
            read = ReceiptData(
                conversation_id=data.conversation_id,
                account_id=data.account_id,
                up_to_seq=up_to,
                share=data.share,
            )
            await self._publish(ReceiptRead.create(read, correlation_id=command.correlation_id))


def _observed(future: asyncio.Future[None]) -> None:
    """A settle beside an announcement that failed: the commands are retried either way."""
    if not future.cancelled():
        future.exception()


def _is_send(job: Job) -> bool:
    return isinstance(job.command, SendMessage)


def _key(command: SendMessage) -> tuple[str, str]:
    return (command.data.conversation_id, command.data.message_id)


def _doc_key(doc: Document) -> tuple[str, str]:
    return (doc["conversation_id"], doc["message_id"])
