"""What a client may expect of a reply: ``reply_expectation`` before composing and the
``CoachAway`` event after a send, one calm line from the coach's availability."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from haven_client import (
    Availability,
    AwayPeriod,
    CoachAway,
    ConnectionChanged,
    NoCoach,
    WeeklyHours,
)
from tests.sdk_fakes.harness import Pair, coach_and_client, next_event, quiet

# Friday 28 March 2025, 18:00 in Berlin (+01:00); Berlin moves to +02:00 on Sunday.
FRIDAY_EVENING = datetime(2025, 3, 28, 17, 0, tzinfo=UTC)
MONDAY_OPENING = datetime(2025, 3, 31, 7, 0, tzinfo=UTC)  # 09:00 in Berlin, summer time
LINE = "Kim usually replies within 24 hours; next available Monday 09:00."
AWAY_NOTE = "Thanks for your message. I'm away and will read it when I'm back."
BACKUP = "Alex Chen, alex@example.org"


def _weekly_hours(away: AwayPeriod | None = None) -> Availability:
    return Availability(
        time_zone="Europe/Berlin",
        weekly=[WeeklyHours(day=d, start="09:00", end="17:00") for d in ("mon", "wed", "fri")],
        response_time_hours=24,
        away_message="I read messages Monday, Wednesday and Friday.",
        away=away,
    )


def _kim(tmp_path: Path) -> contextlib.AbstractAsyncContextManager[Pair]:
    """Coach Kim and a client who reads times in Berlin, on Friday evening."""
    return coach_and_client(
        tmp_path, coach_name="Kim", time_zone="Europe/Berlin", clock=lambda: FRIDAY_EVENING
    )


async def _outside_hours(pair: Pair, away: AwayPeriod | None = None) -> None:
    pair.fake.state.clock = lambda: FRIDAY_EVENING
    await pair.coach.set_availability(_weekly_hours(away))
    pair.fake.state.availability_status[pair.coach_account_id] = (False, MONDAY_OPENING)


async def _connected(pair: Pair) -> None:
    await pair.client.connect()
    await next_event(pair.client, ConnectionChanged)


async def test_before_composing_outside_weekly_hours_the_next_opening_is_named(
    tmp_path: Path,
) -> None:
    async with _kim(tmp_path) as pair:
        await _outside_hours(pair)

        assert await pair.client.reply_expectation(pair.conversation_id) == LINE


async def test_expectation_in_a_given_time_zone(tmp_path: Path) -> None:
    async with _kim(tmp_path) as pair:
        await _outside_hours(pair)

        line = await pair.client.reply_expectation(
            pair.conversation_id, time_zone="America/New_York"
        )

        assert line == "Kim usually replies within 24 hours; next available Monday 03:00."


async def test_while_available_only_the_usual_reply_time_is_said(tmp_path: Path) -> None:
    async with _kim(tmp_path) as pair:
        await pair.coach.set_availability(_weekly_hours())
        pair.fake.state.availability_status[pair.coach_account_id] = (True, FRIDAY_EVENING)

        line = await pair.client.reply_expectation(pair.conversation_id)

        assert line == "Kim usually replies within 24 hours."


async def test_after_a_send_outside_hours_coach_away_carries_the_same_line_once(
    tmp_path: Path,
) -> None:
    async with _kim(tmp_path) as pair:
        await _outside_hours(pair)
        before = await pair.client.reply_expectation(pair.conversation_id)
        await _connected(pair)

        await pair.client.send_text(pair.conversation_id, "I had a hard evening")
        event = await next_event(pair.client, CoachAway)
        await pair.client.send_text(pair.conversation_id, "it's a bit better now")
        again = await quiet(pair.client, seconds=0.3, keep=lambda e: isinstance(e, CoachAway))

        assert event == CoachAway(
            conversation_id=pair.conversation_id,
            coach_account_id=pair.coach_account_id,
            away_message="I read messages Monday, Wednesday and Friday.",
            response_time_hours=24,
            next_available_at=MONDAY_OPENING,
            backup_contact=None,
            reply_expectation=LINE,
        )
        assert event.reply_expectation == before
        assert again == [], "at most one coach_away per unavailable stretch"


async def test_during_an_away_period_the_backup_contact_is_named_before_and_after(
    tmp_path: Path,
) -> None:
    away = AwayPeriod(
        from_=FRIDAY_EVENING - timedelta(days=2),
        until=datetime(2025, 4, 7, 7, tzinfo=UTC),
        message=AWAY_NOTE,
        backup_contact=BACKUP,
    )
    expected = (
        "Kim usually replies within 24 hours; next available Monday 7 April 09:00. "
        f"While Kim is away, you can reach {BACKUP}."
    )
    async with _kim(tmp_path) as pair:
        await _outside_hours(pair, away)
        pair.fake.state.availability_status[pair.coach_account_id] = (False, away.until)
        await _connected(pair)

        before = await pair.client.reply_expectation(pair.conversation_id)
        await pair.client.send_text(pair.conversation_id, "checking in")
        event = await next_event(pair.client, CoachAway)

        assert before == expected
        assert event.reply_expectation == expected
        assert (event.away_message, event.backup_contact) == (AWAY_NOTE, BACKUP)


async def test_away_without_a_backup_contact_names_none(tmp_path: Path) -> None:
    away = AwayPeriod(
        from_=FRIDAY_EVENING - timedelta(days=1),
        until=FRIDAY_EVENING + timedelta(days=3),
        message=AWAY_NOTE,
        backup_contact=None,
    )
    async with _kim(tmp_path) as pair:
        await _outside_hours(pair, away)

        line = await pair.client.reply_expectation(pair.conversation_id)

        assert line == LINE


async def test_no_next_opening_reads_not_available_for_now(tmp_path: Path) -> None:
    async with _kim(tmp_path) as pair:
        await _outside_hours(pair)
        pair.fake.state.availability_status[pair.coach_account_id] = (False, None)
        await _connected(pair)

        before = await pair.client.reply_expectation(pair.conversation_id)
        await pair.fake.coach_away(
            pair.conversation_id,
            away_message=AWAY_NOTE,
            response_time_hours=24,
            next_available_at=None,
        )
        event = await next_event(pair.client, CoachAway)

        assert before == "Kim usually replies within 24 hours; not available for now."
        assert event.reply_expectation == before
        assert event.next_available_at is None


async def test_a_malformed_or_foreign_coach_away_frame_never_stops_later_ones(
    tmp_path: Path,
) -> None:
    async with _kim(tmp_path) as pair:
        await _connected(pair)
        frame = {"type": "coach_away", "conversation_id": "conv_not_ours"}
        await pair.fake.hub.push_account(pair.client_account_id, frame)
        await pair.fake.coach_away(pair.conversation_id, response_time_hours="soon")
        await pair.fake.coach_away(
            pair.conversation_id, response_time_hours=12, next_available_at="next week"
        )

        first = await next_event(pair.client, CoachAway)
        second = await next_event(pair.client, CoachAway)

        assert first.reply_expectation == "Kim will reply when they can; not available for now."
        assert second.reply_expectation == (
            "Kim usually replies within 12 hours; not available for now."
        )
        assert {first.conversation_id, second.conversation_id} == {pair.conversation_id}


async def test_a_coach_has_no_coach_to_wait_for(tmp_path: Path) -> None:
    async with _kim(tmp_path) as pair:
        with pytest.raises(NoCoach):
            await pair.coach.reply_expectation(pair.conversation_id)


async def test_no_host_name_or_coach_text_reaches_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="haven_client")
    away = AwayPeriod(
        from_=FRIDAY_EVENING - timedelta(days=1),
        until=FRIDAY_EVENING + timedelta(days=3),
        message=AWAY_NOTE,
        backup_contact=BACKUP,
    )
    async with _kim(tmp_path) as pair:
        await _outside_hours(pair, away)
        await _connected(pair)
        await pair.client.set_push("https://push.example.org/haven", "s" * 40)
        await pair.client.push_status()
        await pair.client.reply_expectation(pair.conversation_id)
        await pair.client.send_text(pair.conversation_id, "hello")
        await next_event(pair.client, CoachAway)
        await pair.fake.coach_away(pair.conversation_id, next_available_at="not a time")
        await next_event(pair.client, CoachAway)

    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("haven_client"))
    assert "ws_frame_malformed type=coach_away" in logged
    for private in ("push.example.org", "Kim", "Alex", AWAY_NOTE, "hello"):
        assert private not in logged


async def test_a_conversation_recorded_without_roles_still_finds_the_clients_coach(
    tmp_path: Path,
) -> None:
    async with _kim(tmp_path) as pair:
        await _outside_hours(pair)
        stored = pair.client.store.state.conversations[pair.conversation_id]
        for participant in stored.participants:
            participant.role = ""

        assert await pair.client.reply_expectation(pair.conversation_id) == LINE
