"""haven_client notifications and boundaries against the fake: push gateway, notification
settings, coach availability — request shapes, parsing, and refusals as SDK errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from haven_client import (
    Availability,
    AwayPeriod,
    Forbidden,
    InvalidRequest,
    InvalidSetting,
    NotFound,
    NotificationSettings,
    NotLoggedIn,
    PushStatus,
    QuietHours,
    WeeklyHours,
    new_push_secret,
)
from tests.sdk_fakes.harness import coach_and_client, new_client, new_keystore

SECRET = "s" * 40
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def _availability(**changes: object) -> Availability:
    base = Availability(
        time_zone="Europe/Berlin",
        weekly=[WeeklyHours(day=day, start="09:00", end="17:00") for day in WEEKDAYS],
        response_time_hours=24,
        away_message="Thanks for writing. I read messages during my working hours.",
    )
    return base.model_copy(update=changes)


# --- push ----------------------------------------------------------------------------------


async def test_push_url_is_registered_for_this_device_and_status_never_shows_the_secret(
    tmp_path: Path,
) -> None:
    async with coach_and_client(tmp_path) as pair:
        device_id = pair.client.store.state.device_id
        url = "https://push.example.org/haven/relay?device=1"

        registered = await pair.client.set_push(url, SECRET)
        status = await pair.client.push_status()

        assert registered == PushStatus(set=True, host="push.example.org")
        assert status == registered
        assert pair.fake.state.notify_requests == [
            ("PUT", f"/v1/devices/{device_id}/push", {"url": url, "secret": SECRET})
        ]
        assert "secret" not in status.model_dump()

        await pair.client.remove_push()

        assert await pair.client.push_status() == PushStatus(set=False)
        assert device_id not in pair.fake.state.push_subscriptions
        assert pair.fake.state.notify_requests[-1] == (
            "DELETE",
            f"/v1/devices/{device_id}/push",
            None,
        )


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("https://relay:hunter2@push.example.org/haven", SECRET),
        ("https://token@push.example.org/haven", SECRET),
        ("ftp://push.example.org/haven", SECRET),
        ("https://push.example.org/haven", "too short"),
        ("https://push.example.org/haven", "x" * 257),
    ],
    ids=["password", "username", "scheme", "short_secret", "long_secret"],
)
async def test_push_target_the_sdk_refuses_is_never_sent(
    tmp_path: Path, url: str, secret: str
) -> None:
    async with coach_and_client(tmp_path) as pair:
        with pytest.raises(InvalidSetting):
            await pair.client.set_push(url, secret)

        assert pair.fake.state.notify_requests == []


async def test_push_host_off_the_allowlist_is_an_invalid_request_naming_the_url(
    tmp_path: Path,
) -> None:
    async with coach_and_client(tmp_path) as pair:
        pair.fake.state.push_allowed_hosts = {"push.example.org"}

        with pytest.raises(InvalidRequest) as refused:
            await pair.client.set_push("https://elsewhere.example.net/hook", SECRET)

        assert refused.value.status == 422
        assert [e["field"] for e in refused.value.extra["errors"]] == ["url"]
        assert (await pair.client.push_status()).set is False


async def test_generated_push_secrets_are_fresh_and_accepted(tmp_path: Path) -> None:
    first, second = new_push_secret(), new_push_secret()

    assert first != second
    assert 32 <= len(first) <= 256
    async with coach_and_client(tmp_path) as pair:
        assert (await pair.client.set_push("https://push.example.org/h", first)).set


async def test_push_needs_a_logged_in_device(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        fresh = new_client(pair.fake, await new_keystore(tmp_path / "fresh.keystore"))
        try:
            with pytest.raises(NotLoggedIn):
                await fresh.push_status()
        finally:
            await fresh.close()


# --- notification settings --------------------------------------------------------------------


async def test_quiet_hours_are_set_in_a_time_zone_and_read_back(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        assert await pair.client.notification_settings() == NotificationSettings()

        updated = await pair.client.update_notification_settings(
            quiet_hours=("21:00", "08:00"), time_zone="Europe/Berlin"
        )

        expected = NotificationSettings(
            time_zone="Europe/Berlin", quiet_hours=QuietHours(start="21:00", end="08:00")
        )
        assert updated == expected
        assert await pair.client.notification_settings() == expected
        assert pair.fake.state.notify_requests[-1] == (
            "PUT",
            "/v1/me/notification-settings",
            {
                "time_zone": "Europe/Berlin",
                "quiet_hours": {"start": "21:00", "end": "08:00"},
                "urgent_bypass": False,
                "urgent_while_paused": False,
            },
        )


async def test_clearing_quiet_hours_keeps_the_time_zone_and_sends_null(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.client.update_notification_settings(
            quiet_hours=("22:00", "07:00"), time_zone="America/New_York"
        )

        cleared = await pair.client.update_notification_settings(quiet_hours=None)

        assert cleared == NotificationSettings(time_zone="America/New_York")
        body = pair.fake.state.notify_requests[-1][2]
        assert body["quiet_hours"] is None


async def test_set_notification_settings_replaces_them_whole(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        await pair.coach.update_notification_settings(quiet_hours=("20:00", "09:00"))
        replacement = NotificationSettings(time_zone="Asia/Tokyo", urgent_bypass=True)

        assert await pair.coach.set_notification_settings(replacement) == replacement
        assert await pair.coach.notification_settings() == replacement


async def test_urgent_bypass_is_a_coachs_setting(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        with pytest.raises(InvalidRequest) as refused:
            await pair.client.update_notification_settings(urgent_bypass=True)

        assert [e["field"] for e in refused.value.extra["errors"]] == ["urgent_bypass"]
        assert (await pair.coach.update_notification_settings(urgent_bypass=True)).urgent_bypass


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"quiet_hours": ("9pm", "08:00")}, "quiet_hours.start"),
        ({"quiet_hours": ("08:00", "08:00")}, "quiet_hours"),
    ],
    ids=["unknown_zone", "bad_clock", "empty_stretch"],
)
async def test_settings_the_gateway_refuses_name_their_field(
    tmp_path: Path, change: dict[str, object], field: str
) -> None:
    async with coach_and_client(tmp_path) as pair:
        with pytest.raises(InvalidRequest) as refused:
            await pair.client.update_notification_settings(**change)  # type: ignore[arg-type]

        assert field in [e["field"] for e in refused.value.extra["errors"]]


# --- availability -------------------------------------------------------------------------------


async def test_coach_sets_availability_with_an_away_period_and_no_backup(tmp_path: Path) -> None:
    away = AwayPeriod(
        from_=datetime(2025, 4, 1, 7, tzinfo=UTC),
        until=datetime(2025, 4, 8, 7, tzinfo=UTC),
        message="On leave; back on the 8th.",
        backup_contact=None,
    )
    async with coach_and_client(tmp_path) as pair:
        pair.fake.state.availability_status[pair.coach_account_id] = (False, away.until)

        answer = await pair.coach.set_availability(_availability(away=away))

        method, path, body = pair.fake.state.notify_requests[-1]
        assert (method, path) == ("PUT", "/v1/me/availability")
        assert body["away"] == {
            "from": "2025-04-01T07:00:00Z",
            "until": "2025-04-08T07:00:00Z",
            "message": "On leave; back on the 8th.",
            "backup_contact": None,
        }
        assert body["weekly"][0] == {"day": "mon", "start": "09:00", "end": "17:00"}
        assert (body["response_time_hours"], body["time_zone"]) == (24, "Europe/Berlin")
        assert answer.away == away
        assert (answer.available_now, answer.next_available_at) == (False, away.until)


async def test_client_reads_its_coachs_availability(tmp_path: Path) -> None:
    opening = datetime(2025, 3, 31, 7, tzinfo=UTC)
    async with coach_and_client(tmp_path) as pair:
        await pair.coach.set_availability(_availability())
        pair.fake.state.availability_status[pair.coach_account_id] = (False, opening)

        seen = await pair.client.coach_availability(pair.coach_account_id)

        assert seen.is_set
        assert seen.time_zone == "Europe/Berlin"
        assert [w.day for w in seen.weekly] == list(WEEKDAYS)
        assert (seen.response_time_hours, seen.available_now) == (24, False)
        assert seen.next_available_at == opening
        assert seen.away is None


async def test_availability_never_set_reads_as_always_available(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        seen = await pair.client.coach_availability(pair.coach_account_id)

        assert not seen.is_set
        assert seen.weekly == []
        assert seen.available_now
        assert seen.next_available_at is not None


async def test_only_coaches_set_availability(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        with pytest.raises(Forbidden):
            await pair.client.set_availability(_availability())


async def test_availability_the_gateway_refuses_names_its_fields(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        broken = _availability(weekly=[WeeklyHours(day="mon", start="09:00", end="09:00")])

        with pytest.raises(InvalidRequest) as refused:
            await pair.coach.set_availability(broken)

        assert [e["field"] for e in refused.value.extra["errors"]] == ["weekly.0"]


async def test_availability_of_an_unrelated_account_is_not_found(tmp_path: Path) -> None:
    async with coach_and_client(tmp_path) as pair:
        stranger = pair.fake.state.add_account("other-coach", "pw", "coach", "Other")

        with pytest.raises(NotFound):
            await pair.client.coach_availability(stranger.account_id)
