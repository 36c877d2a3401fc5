"""The notification service's fan-out, with a fake repository and a recording deliverer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from services.notification.repository import OfflineReason, Relationship
from services.notification.service import NotificationService
from shared.deliveries import DeviceDelivery, delivery_id_for
from shared.errors import UnavailableError
from shared.events import (
    DeliveryFailed,
    DeliveryFailedData,
    DeviceAdded,
    DeviceData,
    DeviceRemoved,
    MessageRejected,
    MessageStored,
    ReceiptData,
    ReceiptRead,
    RejectedData,
    RelationshipCreated,
    RelationshipData,
    RelationshipEnded,
    RelationshipEndedData,
    StoredMessageData,
)


@dataclass
class FakeRepository:
    """In memory, same contract as NotificationRepository for what the service calls."""

    relationships: dict[str, Relationship] = field(default_factory=dict)
    devices: dict[str, tuple[str, bool]] = field(default_factory=dict)
    pending: dict[tuple[str, str], OfflineReason] = field(default_factory=dict)
    announced: dict[str, tuple[datetime, bool]] = field(default_factory=dict)

    async def relationship_created(self, conversation_id: str, coach: str, client: str) -> None:
        self.relationships[conversation_id] = Relationship(conversation_id, coach, client, "active")

    async def relationship_ended(self, conversation_id: str) -> None:
        known = self.relationships.get(conversation_id)
        if known is not None:
            self.relationships[conversation_id] = Relationship(
                conversation_id, known.coach_account_id, known.client_account_id, "ended"
            )

    async def relationship(self, conversation_id: str) -> Relationship | None:
        return self.relationships.get(conversation_id)

    async def counterparts(self, account_id: str) -> set[str]:
        return {
            other
            for r in self.relationships.values()
            if r.status != "ended" and (other := r.counterpart(account_id)) is not None
        }

    async def claim_announcement(self, account_id: str, now: datetime, window: timedelta) -> bool:
        at, _ = self.announced.get(account_id, (datetime.min.replace(tzinfo=UTC), False))
        if at <= now - window:
            self.announced[account_id] = (now, False)
            return True
        self.announced[account_id] = (at, True)
        return False

    async def due_announcements(self, now: datetime, window: timedelta) -> list[str]:
        due = [a for a, (at, dirty) in self.announced.items() if dirty and at <= now - window]
        for account_id in due:
            self.announced[account_id] = (now, False)
        return due

    async def device_active(self, account_id: str, device_id: str) -> None:
        self.devices.setdefault(device_id, (account_id, True))

    async def device_removed(self, account_id: str, device_id: str) -> None:
        self.devices[device_id] = (account_id, False)

    async def active_devices(self, account_ids: Iterable[str]) -> list[str]:
        wanted = set(account_ids)
        return sorted(d for d, (a, active) in self.devices.items() if active and a in wanted)

    async def record_pending(
        self, device_id: str, conversation_id: str, message_id: str, reason: OfflineReason
    ) -> bool:
        if (device_id, message_id) in self.pending:
            return False
        self.pending[(device_id, message_id)] = reason
        return True


@dataclass
class RecordingDeliverer:
    online: set[str] = field(default_factory=set)
    published: list[DeviceDelivery] = field(default_factory=list)
    fail_with: Exception | None = None

    async def __call__(self, delivery: DeviceDelivery) -> bool:
        if self.fail_with is not None:
            raise self.fail_with
        self.published.append(delivery)
        return delivery.device_id in self.online

    def frames_for(self, device_id: str) -> list[dict[str, object]]:
        """As the device would read them."""
        return [d.frame.wire() for d in self.published if d.device_id == device_id and d.frame]


@pytest.fixture
def repo() -> FakeRepository:
    repo = FakeRepository()
    repo.relationships["c1"] = Relationship("c1", "coach", "client", "active")
    for device, account in [("cd1", "coach"), ("cd2", "coach"), ("kd1", "client")]:
        repo.devices[device] = (account, True)
    repo.devices["stranger_d"] = ("stranger", True)
    return repo


def stored(recipients: list[str], sender_device: str = "kd1") -> MessageStored:
    return MessageStored(
        event_id="ev-stored",
        data=StoredMessageData(
            conversation_id="c1",
            message_id="m1",
            seq=3,
            sender_account_id="client",
            sender_device_id=sender_device,
            server_ts=datetime(2026, 1, 1, tzinfo=UTC),
            urgent=False,
            envelope={"ciphertext": "x"},
            recipient_device_ids=recipients,
        ),
    )


async def test_message_goes_to_recipients_but_not_the_sending_device(repo: FakeRepository) -> None:
    deliver = RecordingDeliverer(online={"cd1", "cd2"})
    await NotificationService(repository=repo, deliver=deliver).message_stored(
        stored(["cd1", "cd2", "kd1"])
    )
    assert sorted(d.device_id for d in deliver.published) == ["cd1", "cd2"]
    first = deliver.published[0]
    assert first.ack_message_id == "m1"
    assert first.delivery_id == delivery_id_for("ev-stored", first.device_id)
    assert repo.pending == {}


async def test_returned_message_delivery_records_one_pending_notification(
    repo: FakeRepository,
) -> None:
    deliver = RecordingDeliverer(online={"cd1"})
    service = NotificationService(repository=repo, deliver=deliver)
    await service.message_stored(stored(["cd1", "cd2", "kd1"]))
    await service.message_stored(stored(["cd1", "cd2", "kd1"]))  # redelivered event
    assert repo.pending == {("cd2", "m1"): "unroutable"}
    assert len(deliver.published) == 4


async def test_a_message_messaging_delivered_owes_a_push_to_its_unroutable_devices_only(
    repo: FakeRepository,
) -> None:
    deliver = RecordingDeliverer(online={"cd1", "cd2"})
    service = NotificationService(repository=repo, deliver=deliver)
    event = stored(["cd1", "cd2", "kd1"])
    delivered = event.model_copy(
        update={
            "data": event.data.model_copy(
                update={"envelope": None, "unroutable_device_ids": ["cd2"]}
            )
        }
    )
    await service.message_stored(delivered)
    await service.message_stored(delivered)  # redelivered event
    assert deliver.published == []  # the frames went out from messaging
    assert repo.pending == {("cd2", "m1"): "unroutable"}


def test_a_stored_message_event_carries_its_envelope_unless_it_was_delivered() -> None:
    data = stored(["cd1"]).data.model_dump()
    with pytest.raises(ValueError, match="envelope"):
        StoredMessageData.model_validate({**data, "envelope": None})
    delivered = StoredMessageData.model_validate(
        {**data, "envelope": None, "unroutable_device_ids": []}
    )
    assert delivered.delivered and not stored(["cd1"]).data.delivered


async def test_unroutable_publish_failure_propagates_for_a_retry(repo: FakeRepository) -> None:
    deliver = RecordingDeliverer(fail_with=UnavailableError("broker gone"))
    with pytest.raises(UnavailableError):
        await NotificationService(repository=repo, deliver=deliver).message_stored(stored(["cd1"]))
    assert repo.pending == {}


async def test_delivery_failed_records_pending_as_ack_timeout(repo: FakeRepository) -> None:
    event = DeliveryFailed(
        event_id="ev-f",
        data=DeliveryFailedData(device_id="cd1", conversation_id="c1", message_id="m9"),
    )
    await NotificationService(repository=repo, deliver=RecordingDeliverer()).delivery_failed(event)
    assert repo.pending == {("cd1", "m9"): "ack_timeout"}


async def test_read_receipt_reaches_both_participants_devices_only(repo: FakeRepository) -> None:
    deliver = RecordingDeliverer()
    data = ReceiptData(conversation_id="c1", account_id="client", up_to_seq=3, share=True)
    await NotificationService(repository=repo, deliver=deliver).receipt_read(
        ReceiptRead(event_id="ev-r", data=data)
    )
    assert sorted(d.device_id for d in deliver.published) == ["cd1", "cd2", "kd1"]
    assert deliver.frames_for("cd1") == [
        {"type": "read", "conversation_id": "c1", "account_id": "client", "up_to_seq": 3}
    ]


async def test_an_unshared_read_receipt_reaches_only_the_readers_own_devices(
    repo: FakeRepository,
) -> None:
    deliver = RecordingDeliverer()
    data = ReceiptData(conversation_id="c1", account_id="client", up_to_seq=3)  # share: False
    await NotificationService(repository=repo, deliver=deliver).receipt_read(
        ReceiptRead(event_id="ev-r", data=data)
    )
    assert [d.device_id for d in deliver.published] == ["kd1"]
    assert deliver.frames_for("cd1") == []


async def test_relationship_frames_follow_the_projection(repo: FakeRepository) -> None:
    deliver = RecordingDeliverer()
    service = NotificationService(repository=repo, deliver=deliver)
    repo.devices["kd9"] = ("client9", True)
    created = RelationshipCreated(
        event_id="ev-c",
        data=RelationshipData(
            conversation_id="c9", coach_account_id="coach", client_account_id="client9"
        ),
    )
    await service.relationship_created(created)
    await service.relationship_ended(
        RelationshipEnded(
            event_id="ev-e", data=RelationshipEndedData(conversation_id="c9", ended_by="coach")
        )
    )
    assert [f["status"] for f in deliver.frames_for("kd9")] == ["active", "ended"]
    assert sorted({d.device_id for d in deliver.published}) == ["cd1", "cd2", "kd9"]
    assert repo.relationships["c9"].status == "ended"


async def test_device_added_tells_own_other_devices_and_counterparts(
    repo: FakeRepository,
) -> None:
    deliver = RecordingDeliverer()
    event = DeviceAdded(event_id="ev-d", data=DeviceData(account_id="coach", device_id="cd3"))
    await NotificationService(repository=repo, deliver=deliver).device_added(event)
    assert sorted(d.device_id for d in deliver.published) == ["cd1", "cd2", "kd1"]
    assert deliver.frames_for("kd1") == [{"type": "devices_changed", "account_id": "coach"}]
    assert repo.devices["cd3"] == ("coach", True)


async def test_removed_device_is_not_told_and_stays_removed(repo: FakeRepository) -> None:
    deliver = RecordingDeliverer()
    service = NotificationService(repository=repo, deliver=deliver)
    removed = DeviceRemoved(event_id="ev-x", data=DeviceData(account_id="coach", device_id="cd2"))
    await service.device_removed(removed)
    await service.device_added(
        DeviceAdded(event_id="ev-late", data=DeviceData(account_id="coach", device_id="cd2"))
    )
    assert "cd2" not in {d.device_id for d in deliver.published}
    assert repo.devices["cd2"] == ("coach", False)


async def test_device_changes_within_the_window_are_announced_once_more_when_it_ends(
    repo: FakeRepository,
) -> None:
    deliver = RecordingDeliverer()
    service = NotificationService(
        repository=repo, deliver=deliver, announce_window=timedelta(seconds=2)
    )
    for n, device in enumerate(["cd3", "cd4", "cd5"]):
        await service.device_added(
            DeviceAdded(event_id=f"ev-{n}", data=DeviceData(account_id="coach", device_id=device))
        )
    assert deliver.frames_for("kd1") == [{"type": "devices_changed", "account_id": "coach"}]
    assert await service.announce_due() == 0  # the window has not ended yet
    at, dirty = repo.announced["coach"]
    repo.announced["coach"] = (at - timedelta(seconds=3), dirty)  # ... now it has
    assert await service.announce_due() == 1
    assert len(deliver.frames_for("kd1")) == 2
    assert await service.announce_due() == 0  # once


async def test_counterparts_of_an_ended_relationship_hear_nothing(repo: FakeRepository) -> None:
    deliver = RecordingDeliverer()
    service = NotificationService(repository=repo, deliver=deliver, announce_window=timedelta(0))
    await service.relationship_ended(
        RelationshipEnded(
            event_id="end", data=RelationshipEndedData(conversation_id="c1", ended_by="coach")
        )
    )
    deliver.published.clear()
    await service.device_added(
        DeviceAdded(event_id="ev-new", data=DeviceData(account_id="coach", device_id="cd9"))
    )
    assert "kd1" not in {d.device_id for d in deliver.published}


async def test_rejection_goes_to_the_sending_device_only(repo: FakeRepository) -> None:
    deliver = RecordingDeliverer(online={"kd1"})
    event = MessageRejected(
        event_id="ev-j",
        data=RejectedData(
            conversation_id="c1",
            message_id="m1",
            sender_account_id="client",
            sender_device_id="kd1",
            code="conflict",
            detail="message_id already used",
        ),
    )
    await NotificationService(repository=repo, deliver=deliver).message_rejected(event)
    assert [d.device_id for d in deliver.published] == ["kd1"]
    assert deliver.frames_for("kd1")[0]["type"] == "message_rejected"
    assert repo.pending == {}


async def test_invalid_device_ids_are_skipped_not_fatal(repo: FakeRepository) -> None:
    deliver = RecordingDeliverer()
    await NotificationService(repository=repo, deliver=deliver).message_stored(
        stored(["cd1", "bad.id", "#"])
    )
    assert [d.device_id for d in deliver.published] == ["cd1"]
