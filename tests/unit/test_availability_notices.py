"""`coach_away` notices and the push deferral policy, with in-memory repositories and a
recording deliverer: who is told, when, and how often."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.notification.availability.deferral import NEVER_OPEN_RECHECK, OutsideHours
from services.notification.availability.notices import AwayNotices
from services.notification.availability.service import AvailabilityService
from services.notification.repository import Relationship
from services.notification.service import NotificationService
from shared.availability_contracts import Availability
from shared.deliveries import delivery_id_for
from shared.events import MessageStored, StoredMessageData
from tests.unit.test_deliveries_service import FakeRepository, RecordingDeliverer

CLOCK = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # the real "now" of these tests
FRIDAY_EVENING = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)  # 19:00 in Berlin
SATURDAY = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
MONDAY_MORNING = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # 09:00 in Berlin: open
MONDAY_EVENING = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)


class MemoryAvailability:
    """Same contract as AvailabilityRepository for what the notices and the service call."""

    def __init__(self) -> None:
        self.stored: dict[str, Availability] = {}
        self.notices: dict[str, tuple[str, bool]] = {}  # (conversation:stretch) -> (event, sent)

    async def put(self, account_id: str, availability: Availability) -> None:
        self.stored[account_id] = availability

    async def get(self, account_id: str) -> Availability | None:
        return self.stored.get(account_id)

    async def claim_notice(self, conversation_id: str, stretch: str, event_id: str) -> bool:
        claimed = self.notices.setdefault(f"{conversation_id}:{stretch}", (event_id, False))
        return claimed == (event_id, False)

    async def notice_sent(self, conversation_id: str, stretch: str) -> None:
        key = f"{conversation_id}:{stretch}"
        self.notices[key] = (self.notices[key][0], True)


def office_hours(**changes: Any) -> Availability:
    return Availability.model_validate(
        {
            "time_zone": "Europe/Berlin",
            "weekly": [
                {"day": day, "start": "09:00", "end": "17:00"}
                for day in ("mon", "tue", "wed", "thu", "fri")
            ],
            "response_time_hours": 24,
            "away_message": "I reply on weekdays.",
        }
        | changes
    )


@pytest.fixture
def repo() -> FakeRepository:
    repo = FakeRepository()
    repo.relationships["c1"] = Relationship("c1", "coach", "client", "active")
    for device, account in [("cd1", "coach"), ("kd1", "client"), ("kd2", "client")]:
        repo.devices[device] = (account, True)
    return repo


@pytest.fixture
def availability() -> MemoryAvailability:
    memory = MemoryAvailability()
    memory.stored["coach"] = office_hours()
    return memory


@pytest.fixture
def deliver() -> RecordingDeliverer:
    return RecordingDeliverer(online={"cd1", "kd1", "kd2"})


@pytest.fixture
def service(
    repo: FakeRepository, availability: MemoryAvailability, deliver: RecordingDeliverer
) -> NotificationService:
    rules = AvailabilityService(repository=availability)  # type: ignore[arg-type]
    notices = AwayNotices(
        availability=rules, notices=availability, relationships=repo, clock=lambda: CLOCK
    )  # type: ignore[arg-type]
    return NotificationService(repository=repo, deliver=deliver, away_notices=notices)  # type: ignore[arg-type]


def stored(message_id: str, at: datetime, sender: str = "client") -> MessageStored:
    device = "kd1" if sender == "client" else "cd1"
    return MessageStored(
        event_id=f"ev-{message_id}",
        data=StoredMessageData(
            conversation_id="c1",
            message_id=message_id,
            seq=1,
            sender_account_id=sender,
            sender_device_id=device,
            server_ts=at,
            urgent=False,
            envelope={"ciphertext": "x"},
            recipient_device_ids=["cd1", "kd1", "kd2"],
        ),
    )


def away_frames(deliver: RecordingDeliverer, device: str) -> list[dict[str, object]]:
    return [f for f in deliver.frames_for(device) if f.get("type") == "coach_away"]


async def test_a_clients_message_outside_hours_tells_every_client_device_once(
    service: NotificationService, deliver: RecordingDeliverer
) -> None:
    await service.message_stored(stored("m1", FRIDAY_EVENING))
    await service.message_stored(stored("m2", SATURDAY))  # the same weekend
    expected = {
        "type": "coach_away",
        "conversation_id": "c1",
        "away_message": "I reply on weekdays.",
        "response_time_hours": 24,
        "next_available_at": "2026-12-07T08:00:00Z",
    }
    assert away_frames(deliver, "kd1") == away_frames(deliver, "kd2") == [expected]
    assert away_frames(deliver, "cd1") == []
    ids = {d.delivery_id for d in deliver.published if d.frame and d.frame.type == "coach_away"}
    assert len(ids) == 2  # one per device, stable for the stretch


async def test_a_redelivered_event_sends_nothing_once_the_notice_went_out(
    service: NotificationService, deliver: RecordingDeliverer
) -> None:
    await service.message_stored(stored("m1", FRIDAY_EVENING))
    await service.message_stored(stored("m1", FRIDAY_EVENING))
    assert len(away_frames(deliver, "kd1")) == 1


async def test_a_notice_claimed_but_not_sent_is_sent_by_its_redelivered_event(
    service: NotificationService, deliver: RecordingDeliverer, availability: MemoryAvailability
) -> None:
    # A replica claimed the stretch for m1 and crashed before its frames went out.
    await availability.claim_notice("c1", "2026-12-04T16:00:00Z", "ev-m1")
    await service.message_stored(stored("m2", SATURDAY))  # another message: not its notice
    assert away_frames(deliver, "kd1") == []
    await service.message_stored(stored("m1", FRIDAY_EVENING))  # m1 redelivered
    assert len(away_frames(deliver, "kd1")) == 1
    await service.message_stored(stored("m1", FRIDAY_EVENING))
    assert len(away_frames(deliver, "kd1")) == 1


async def test_a_new_stretch_after_an_opening_tells_again(
    service: NotificationService, deliver: RecordingDeliverer
) -> None:
    await service.message_stored(stored("m1", SATURDAY))
    await service.message_stored(stored("m2", MONDAY_MORNING))  # open: nothing
    await service.message_stored(stored("m3", MONDAY_EVENING))
    nexts = [f["next_available_at"] for f in away_frames(deliver, "kd1")]
    assert nexts == ["2026-12-07T08:00:00Z", "2026-12-08T08:00:00Z"]


async def test_the_coachs_own_messages_and_messages_inside_hours_tell_nobody(
    service: NotificationService, deliver: RecordingDeliverer
) -> None:
    await service.message_stored(stored("m1", SATURDAY, sender="coach"))
    await service.message_stored(stored("m2", MONDAY_MORNING))
    assert [d for d in deliver.published if d.frame and d.frame.type == "coach_away"] == []


async def test_during_away_the_away_message_and_backup_contact_are_sent(
    service: NotificationService, deliver: RecordingDeliverer, availability: MemoryAvailability
) -> None:
    leave = {
        "from": "2026-12-07T00:00:00+01:00",
        "until": "2026-12-09T12:00:00+01:00",
        "message": "On leave until Wednesday noon.",
        "backup_contact": "Sam, 555-0100",
    }
    availability.stored["coach"] = office_hours(away=leave)
    await service.message_stored(stored("m1", MONDAY_MORNING))
    assert away_frames(deliver, "kd1") == [
        {
            "type": "coach_away",
            "conversation_id": "c1",
            "away_message": "On leave until Wednesday noon.",
            "response_time_hours": 24,
            "next_available_at": "2026-12-09T11:00:00Z",
            "backup_contact": "Sam, 555-0100",
        }
    ]


async def test_no_availability_or_an_ended_relationship_tells_nobody(
    service: NotificationService,
    deliver: RecordingDeliverer,
    availability: MemoryAvailability,
    repo: FakeRepository,
) -> None:
    del availability.stored["coach"]
    await service.message_stored(stored("m1", SATURDAY))
    availability.stored["coach"] = office_hours()
    repo.relationships["c1"] = Relationship("c1", "coach", "client", "ended")
    await service.message_stored(stored("m2", SATURDAY))
    assert away_frames(deliver, "kd1") == []


async def test_a_stretch_already_over_by_the_clock_is_not_announced(
    repo: FakeRepository, availability: MemoryAvailability, deliver: RecordingDeliverer
) -> None:
    rules = AvailabilityService(repository=availability)  # type: ignore[arg-type]
    later = MONDAY_MORNING + timedelta(hours=1)
    notices = AwayNotices(
        availability=rules, notices=availability, relationships=repo, clock=lambda: later
    )  # type: ignore[arg-type]
    service = NotificationService(repository=repo, deliver=deliver, away_notices=notices)  # type: ignore[arg-type]
    await service.message_stored(stored("m1", SATURDAY))  # a late event
    assert away_frames(deliver, "kd1") == []


async def test_away_notice_delivery_ids_derive_from_the_stretch(
    service: NotificationService, deliver: RecordingDeliverer
) -> None:
    await service.message_stored(stored("m1", SATURDAY))
    notice = next(d for d in deliver.published if d.frame and d.frame.type == "coach_away")
    assert notice.delivery_id != delivery_id_for("ev-m1", notice.device_id)
    assert notice.ack_message_id is None


# --- the deferral policy ---------------------------------------------------------------------


def policy(
    repo: FakeRepository, availability: MemoryAvailability, bypass: bool = False
) -> OutsideHours:
    async def urgent_bypass(account_id: str) -> bool:
        return bypass and account_id == "coach"

    rules = AvailabilityService(repository=availability)  # type: ignore[arg-type]
    return OutsideHours(availability=rules, relationships=repo, urgent_bypass=urgent_bypass)  # type: ignore[arg-type]


async def test_the_coachs_pushes_outside_hours_wait_for_the_next_opening(
    repo: FakeRepository, availability: MemoryAvailability
) -> None:
    defer = policy(repo, availability)
    assert await defer("coach", "cd1", "c1", False, SATURDAY) == MONDAY_MORNING
    assert await defer("coach", "cd1", "c1", True, SATURDAY) == MONDAY_MORNING  # no bypass
    assert await defer("coach", "cd1", "c1", False, MONDAY_MORNING) is None  # open
    assert await defer("client", "kd2", "c1", False, SATURDAY) is None  # only the coach's


async def test_urgent_messages_reach_a_coach_who_opted_in_at_once(
    repo: FakeRepository, availability: MemoryAvailability
) -> None:
    defer = policy(repo, availability, bypass=True)
    assert await defer("coach", "cd1", "c1", True, SATURDAY) is None
    assert await defer("coach", "cd1", "c1", False, SATURDAY) == MONDAY_MORNING


async def test_no_availability_or_no_hours_at_all(
    repo: FakeRepository, availability: MemoryAvailability
) -> None:
    defer = policy(repo, availability)
    assert await defer("coach", "cd1", "unknown", False, SATURDAY) is None
    availability.stored["coach"] = office_hours(weekly=[])
    assert await defer("coach", "cd1", "c1", False, SATURDAY) == SATURDAY + NEVER_OPEN_RECHECK
    del availability.stored["coach"]
    assert await defer("coach", "cd1", "c1", False, SATURDAY) is None
