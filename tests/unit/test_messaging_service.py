"""Messaging's command logic against an in-memory repository and a recording publisher."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from services.messaging import documents
from services.messaging.repository import InsertResult
from services.messaging.service import Job, MessagingService, Outcome, OutEvent, rounds
from shared.commands import SendMessage
from shared.errors import PermanentError, TransientError
from tests.support.messaging import delete_command, read_command, send_command

Doc = dict[str, Any]


async def settled(service: MessagingService, jobs: list[Job]) -> list[Outcome]:
    """The batch's outcomes once every announcement in flight has been confirmed."""
    outcomes = await service.handle(jobs)
    return [await o if isinstance(o, asyncio.Future) else o for o in outcomes]


class FakeRepository:
    """The repository contract in memory: unique (conversation, message) and (conversation, seq)."""

    def __init__(self) -> None:
        self.messages: list[Doc] = []
        self.counters: dict[str, int] = {}
        self.markers: dict[str, int] = {}
        self.sneak_in: list[Doc] = []  # stored by "someone else" just before our next insert

    async def existing(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Doc]:
        return {
            k: d for d in self.messages if (k := (d["conversation_id"], d["message_id"])) in pairs
        }

    async def reserve(self, counts: dict[str, int]) -> dict[str, int]:
        for conversation_id, count in counts.items():
            self.counters[conversation_id] = self.counters.get(conversation_id, 0) + count
        return {c: self.counters[c] for c in counts}

    async def repair_counter(self, conversation_id: str) -> None:
        last = await self.last_seq(conversation_id)
        self.counters[conversation_id] = max(self.counters.get(conversation_id, 0), last)

    async def insert(self, docs: list[Doc]) -> InsertResult:
        self.messages += self.sneak_in
        self.sneak_in = []
        result = InsertResult()
        for i, doc in enumerate(docs):
            same = [d for d in self.messages if d["conversation_id"] == doc["conversation_id"]]
            if any(d["message_id"] == doc["message_id"] for d in same):
                result.duplicate_ids.append(i)
            elif any(d["seq"] == doc["seq"] for d in same):
                result.duplicate_seqs.append(i)
            else:
                self.messages.append(dict(doc))
        return result

    async def find_message(self, conversation_id: str, message_id: str) -> Doc | None:
        found = await self.existing([(conversation_id, message_id)])
        return found.get((conversation_id, message_id))

    async def tombstone(self, conversation_id: str, message_id: str, at: datetime) -> Doc | None:
        doc = await self.find_message(conversation_id, message_id)
        if doc is None or doc["deleted"]:
            return None
        doc.pop("envelope")
        doc.update(deleted=True, deleted_at=at)
        return doc

    async def last_seq(self, conversation_id: str) -> int:
        seqs = [d["seq"] for d in self.messages if d["conversation_id"] == conversation_id]
        return max(seqs, default=0)

    async def raise_marker(self, conversation_id: str, account_id: str, up_to_seq: int) -> int:
        key = f"{conversation_id}:{account_id}"
        before = self.markers.get(key, 0)
        self.markers[key] = max(before, up_to_seq)
        return before


@pytest.fixture
def repo() -> FakeRepository:
    return FakeRepository()


@pytest.fixture
def published() -> list[OutEvent]:
    return []


@pytest.fixture
def service(repo: FakeRepository, published: list[OutEvent]) -> MessagingService:
    async def publish(event: OutEvent) -> None:
        published.append(event)

    return MessagingService(repo=repo, publish=publish)  # type: ignore[arg-type]


def test_rounds_keep_each_conversations_order_and_join_consecutive_sends() -> None:
    a1, a2, b1 = send_command("a"), send_command("a"), send_command("b")
    jobs = [
        Job(a1),
        Job(b1),
        Job(a2),
        Job(delete_command("a", a1.data.message_id, "acct-client")),
        Job(send_command("a")),
        Job(read_command("b", "acct-coach", 1)),
    ]
    assert rounds(jobs) == [[0, 2, 1], [3, 5], [4]]


async def test_a_send_and_its_delete_in_one_batch_happen_in_that_order(
    service: MessagingService, repo: FakeRepository, published: list[OutEvent]
) -> None:
    send = send_command("a")
    delete = delete_command("a", send.data.message_id, "acct-client")

    assert await settled(service, [Job(send), Job(delete)]) == [None, None]

    assert [e.type for e in published] == ["message.stored", "message.deleted"]
    assert "envelope" not in repo.messages[0]


async def test_a_message_stored_meanwhile_is_announced_with_its_stored_seq(
    service: MessagingService, repo: FakeRepository, published: list[OutEvent]
) -> None:
    command = send_command("a")
    repo.sneak_in = [documents.message_document(command.data, 7, documents.server_now())]

    await settled(service, [Job(command), Job(send_command("a"))])

    assert [(e.data.message_id, e.data.seq) for e in published] == [
        (command.data.message_id, 7),
        (published[1].data.message_id, 2),
    ]
    assert len(repo.messages) == 2


class CountingRepository(FakeRepository):
    def __init__(self) -> None:
        super().__init__()
        self.looked_up: list[list[tuple[str, str]]] = []

    async def existing(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Doc]:
        self.looked_up.append(list(pairs))
        return await super().existing(pairs)


async def test_only_redelivered_sends_are_looked_up_before_the_insert(
    published: list[OutEvent],
) -> None:
    repo = CountingRepository()

    async def publish(event: OutEvent) -> None:
        published.append(event)

    service = MessagingService(repo=repo, publish=publish)  # type: ignore[arg-type]
    first, retried = send_command("a"), send_command("a")
    await settled(service, [Job(first), Job(retried)])
    assert repo.looked_up == [[]]  # fresh sends: straight to the insert

    # A client's retried POST (not redelivered): the unique index finds it, no second copy.
    await settled(service, [Job(retried)])
    # A redelivery: looked up first, so it takes no new seq.
    await settled(service, [Job(first, redelivered=True)])

    assert repo.looked_up[1:] == [[], [_key(retried)], [_key(first)]]
    assert len(repo.messages) == 2
    assert [(e.data.message_id, e.data.seq) for e in published] == [
        (first.data.message_id, 1),
        (retried.data.message_id, 2),
        (retried.data.message_id, 2),
        (first.data.message_id, 1),
    ]
    assert repo.counters["a"] == 3  # the blind duplicate cost one gap, the redelivery none


def _key(command: SendMessage) -> tuple[str, str]:
    return (command.data.conversation_id, command.data.message_id)


async def test_a_counter_behind_the_stored_seqs_is_repaired_then_retried(
    service: MessagingService, repo: FakeRepository, published: list[OutEvent]
) -> None:
    old = send_command("a")
    repo.messages.append(documents.message_document(old.data, 5, documents.server_now()))
    repo.counters["a"] = 4  # say, restored from an older backup than the messages
    command = send_command("a")

    with pytest.raises(TransientError):
        await settled(service, [Job(command)])
    await settled(service, [Job(command)])

    assert [e.data.seq for e in published] == [6]


async def test_an_unstorable_envelope_is_rejected_and_the_rest_of_the_batch_stored(
    service: MessagingService, repo: FakeRepository, published: list[OutEvent]
) -> None:
    command = send_command("a")
    other_id = command.data.envelope.model_copy(update={"message_id": str(uuid.uuid4())})
    broken = command.model_copy(
        update={"data": command.data.model_copy(update={"envelope": other_id})}
    )
    fine = send_command("a")

    outcomes = await settled(service, [Job(broken), Job(fine)])

    assert isinstance(outcomes[0], PermanentError)
    assert outcomes[1] is None
    assert [(e.type, e.data.message_id) for e in published] == [
        ("message.rejected", broken.data.message_id),
        ("message.stored", fine.data.message_id),
    ]
    assert published[0].data.code == "invalid_request"
    assert published[1].data.seq == 1


async def test_a_redelivered_read_announces_again_but_a_repeated_one_does_not(
    service: MessagingService, published: list[OutEvent]
) -> None:
    await settled(service, [Job(send_command("a")), Job(send_command("a"))])
    read = read_command("a", "acct-coach", 2)

    await settled(service, [Job(read)])
    await settled(service, [Job(read)])
    await settled(service, [Job(read, redelivered=True)])

    reads = [e for e in published if e.type == "receipt.read"]
    assert [e.data.up_to_seq for e in reads] == [2, 2]
    assert reads[0].event_id == reads[1].event_id


def test_history_items_keep_a_deleted_messages_place_without_its_envelope() -> None:
    doc = documents.message_document(send_command("a").data, 3, documents.server_now())
    assert documents.history_item(doc).envelope == doc["envelope"]
    doc.pop("envelope")
    doc["deleted"] = True
    item = documents.history_item(doc)
    assert (item.seq, item.deleted, item.envelope) == (3, True, None)
    assert documents.server_now().microsecond % 1000 == 0


async def test_an_erased_senders_send_is_refused_without_shifting_the_others_announcements(
    repo: FakeRepository, published: list[OutEvent]
) -> None:
    async def publish(event: OutEvent) -> None:
        published.append(event)

    async def erased(accounts: Sequence[str]) -> set[str]:
        return {"acct-gone"} & set(accounts)

    service = MessagingService(repo=repo, publish=publish, erased=erased)  # type: ignore[arg-type]
    gone = send_command("a", sender="acct-gone", device="dev-gone")
    first, second = send_command("a"), send_command("a")

    outcomes = await settled(service, [Job(first), Job(gone), Job(second)])

    assert outcomes == [None, None, None]
    assert [(e.type, e.data.message_id) for e in published] == [
        ("message.rejected", gone.data.message_id),
        ("message.stored", first.data.message_id),
        ("message.stored", second.data.message_id),
    ]
    assert published[0].data.code == "account_deleted"
    assert [d["message_id"] for d in repo.messages] == [
        first.data.message_id,
        second.data.message_id,
    ]


async def test_a_batch_is_announced_while_its_retention_is_settled(
    repo: FakeRepository, published: list[OutEvent]
) -> None:
    """The settle read after the insert holds back neither the events (at idle it is one
    store round trip of the send→deliver path) nor the next batch, only the acks."""
    release = asyncio.Event()
    settled_docs: list[Any] = []

    async def publish(event: OutEvent) -> None:
        published.append(event)

    async def settle(docs: Sequence[Any]) -> None:
        await release.wait()
        settled_docs.extend(docs)

    service = MessagingService(repo=repo, publish=publish, settle=settle)  # type: ignore[arg-type]
    command = send_command("a")
    handling = asyncio.create_task(service.handle([Job(command)]))
    for _ in range(20):
        await asyncio.sleep(0)
    assert [e.data.message_id for e in published] == [command.data.message_id]
    outcomes = await handling  # the pipeline may store the next batch meanwhile
    assert len(outcomes) == 1 and isinstance(outcomes[0], asyncio.Future)
    for _ in range(20):
        await asyncio.sleep(0)
    assert not outcomes[0].done()  # the command is acked only once its settle is done
    assert not settled_docs
    release.set()
    await outcomes[0]
    assert [d["message_id"] for d in settled_docs] == [command.data.message_id]


async def test_a_failed_settle_fails_the_commands_and_their_retry_settles_again(
    repo: FakeRepository, published: list[OutEvent]
) -> None:
    """Stored but not settled: the commands are retried (not acked), and the retry, finding
    the message stored, announces it again and settles it again."""
    settled_docs: list[Any] = []
    failing = [True]

    async def publish(event: OutEvent) -> None:
        published.append(event)

    async def settle(docs: Sequence[Any]) -> None:
        if failing.pop():
            raise TransientError("store away")
        settled_docs.extend(docs)

    service = MessagingService(repo=repo, publish=publish, settle=settle)  # type: ignore[arg-type]
    command = send_command("a")
    [outcome] = await service.handle([Job(command)])
    assert isinstance(outcome, asyncio.Future)
    with pytest.raises(TransientError):
        await outcome
    failing.append(False)
    assert await settled(service, [Job(command)]) == [None]
    assert [d["message_id"] for d in settled_docs] == [command.data.message_id]
    assert [d["message_id"] for d in repo.messages] == [command.data.message_id]
    assert [e.data.message_id for e in published] == [command.data.message_id] * 2


async def test_an_erased_senders_seq_is_reserved_beside_the_erased_read_and_left_a_gap(
    repo: FakeRepository, published: list[OutEvent]
) -> None:
    """The erased-senders read and the seq reservation run side by side (one round trip of
    the batch, not two in a row); an erased sender's message is never inserted."""
    reading = asyncio.Event()
    counted: list[dict[str, int]] = []

    async def publish(event: OutEvent) -> None:
        published.append(event)

    async def erased(accounts: Sequence[str]) -> set[str]:
        reading.set()
        await asyncio.sleep(0.01)
        assert counted  # the seqs were reserved while this read was out
        return {"acct-gone"} & set(accounts)

    reserve = repo.reserve

    async def reserving(counts: dict[str, int]) -> dict[str, int]:
        await reading.wait()
        counted.append(dict(counts))
        return await reserve(counts)

    repo.reserve = reserving  # type: ignore[method-assign]
    service = MessagingService(repo=repo, publish=publish, erased=erased)  # type: ignore[arg-type]
    first, gone, second = (
        send_command("a"),
        send_command("a", sender="acct-gone"),
        send_command("a"),
    )
    outcomes = await settled(service, [Job(first), Job(gone), Job(second)])
    assert outcomes == [None, None, None]
    assert counted == [{first.data.conversation_id: 3}]
    assert [(d["message_id"], d["seq"]) for d in repo.messages] == [
        (first.data.message_id, 1),
        (second.data.message_id, 3),
    ]
    assert published[0].type == "message.rejected"
