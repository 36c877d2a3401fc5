"""Push rules without I/O: the verdict on a gateway's answer, sealed secrets, delivery ids,
settings, the RPC contract's validation and its `invalid_field` errors."""

from __future__ import annotations

import base64
from pathlib import Path

import pydantic
import pytest

from services.notification.consumers import chained
from services.notification.push.engine import push_delivery_id
from services.notification.push.sealing import SecretSealer, UnreadableSecretError, read_key_file
from services.notification.push.sender import Attempt, verdict
from services.notification.settings import NotificationSettings, parse_delays
from shared.notify_contracts import (
    INVALID_FIELD,
    PUSH_PUT,
    SETTINGS_PUT,
    NotificationPreferences,
    NotificationSettingsPut,
    NotificationSettingsReply,
    PushSubscriptionPut,
    PushSubscriptionReply,
    parse_invalid_fields,
)
from shared.rpc import RpcError


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (200, None, "sent"),
        (202, None, "sent"),
        (204, None, "sent"),
        (410, None, "gone"),
        (408, None, "retry"),
        (429, None, "retry"),
        (500, None, "retry"),
        (503, None, "retry"),
        (400, None, "give_up"),
        (401, None, "give_up"),
        (404, None, "give_up"),
        (301, None, "give_up"),  # redirects are not followed
        (None, "network", "retry"),
        (None, "timeout", "retry"),
        (None, "address_refused", "give_up"),
    ],
)
def test_verdict_on_a_push_gateways_answer(
    status: int | None, error: str | None, expected: str
) -> None:
    assert verdict(Attempt(status, error, 0.1)) == expected


def test_attempt_reason_names_the_status_or_the_error() -> None:
    assert Attempt(503, None, 0).reason == "http_503"
    assert Attempt(None, "timeout", 0).reason == "timeout"


def test_sealed_secrets_open_only_for_their_device_and_key() -> None:
    sealer = SecretSealer(b"k" * 32)
    sealed = sealer.seal("s" * 40, "dev-1")
    assert b"s" * 40 not in sealed
    assert sealer.open(sealed, "dev-1", sealer.key_id) == "s" * 40
    assert sealer.seal("s" * 40, "dev-1") != sealed  # a fresh nonce each time
    with pytest.raises(UnreadableSecretError):
        sealer.open(sealed, "dev-2")
    with pytest.raises(UnreadableSecretError):
        SecretSealer(b"x" * 32).open(sealed, "dev-1")
    with pytest.raises(UnreadableSecretError):
        sealer.open(sealed, "dev-1", key_id="another")


def test_key_file_holds_base64_of_32_bytes(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.write_text(base64.b64encode(b"\x01" * 32).decode() + "\n")
    assert read_key_file(good) == b"\x01" * 32
    for name, content in [("short", base64.b64encode(b"k" * 16).decode()), ("junk", "not!b64")]:
        path = tmp_path / name
        path.write_text(content)
        with pytest.raises(ValueError, match="32 random bytes"):
            read_key_file(path)
    with pytest.raises(pydantic.ValidationError, match="push_secret_key_file"):
        NotificationSettings(push_secret_key_file=tmp_path / "junk")


def test_retry_delays_are_a_setting_in_seconds() -> None:
    assert parse_delays("10,30,120,300,900") == (10_000, 30_000, 120_000, 300_000, 900_000)
    assert parse_delays("0.2, 0.5") == (200, 500)
    assert NotificationSettings().push_retry_delays_ms[0] == 10_000
    for bad in ("", "ten", "0", "-1", "100000"):
        with pytest.raises(ValueError, match=r"delays|seconds"):
            parse_delays(bad)


def test_delivery_id_is_stable_for_the_same_messages_and_differs_otherwise() -> None:
    one = push_delivery_id("d1", "c1", ["m2", "m1"])
    assert one == push_delivery_id("d1", "c1", ["m1", "m2"])
    assert one != push_delivery_id("d1", "c1", ["m1", "m2", "m3"])
    assert one != push_delivery_id("d2", "c1", ["m1", "m2"])


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "../../etc/passwd"}, "time_zone"),
        ({"time_zone": "localtime"}, "time_zone"),
        ({"time_zone": "UTC", "quiet_hours": {"start": "24:00", "end": "07:00"}}, "start"),
        ({"time_zone": "UTC", "quiet_hours": {"start": "7:00", "end": "08:00"}}, "start"),
        ({"time_zone": "UTC", "quiet_hours": {"start": "08:00", "end": "08:00"}}, "quiet_hours"),
        ({"time_zone": "UTC", "urgent_bypass": "sometimes"}, "urgent_bypass"),
        ({"time_zone": "UTC", "colour": "blue"}, "colour"),
    ],
)
async def test_invalid_settings_are_answered_invalid_field_naming_it(
    settings: dict[str, object], field: str
) -> None:
    async def never(_: NotificationSettingsPut) -> NotificationSettingsReply:
        raise AssertionError("not reached")

    _, handler = SETTINGS_PUT.serve_checked(never)
    with pytest.raises(RpcError) as caught:
        await handler({"account_id": "a1", "settings": settings})
    assert caught.value.code == INVALID_FIELD
    fields, reason = parse_invalid_fields(str(caught.value))
    assert any(field in name for name in fields)
    assert reason
    assert "etc/passwd" not in str(caught.value) and "Mars" not in str(caught.value)


async def test_a_short_secret_is_invalid_field_secret_without_echoing_it() -> None:
    async def never(_: PushSubscriptionPut) -> PushSubscriptionReply:
        raise AssertionError("not reached")

    _, handler = PUSH_PUT.serve_checked(never)
    with pytest.raises(RpcError) as caught:
        await handler(
            {"account_id": "a", "device_id": "d1", "url": "https://x.example", "secret": "short"}
        )
    assert parse_invalid_fields(str(caught.value))[0] == ["secret"]
    assert "short" not in str(caught.value)


def test_invalid_field_details_parse_with_and_without_a_reason() -> None:
    assert parse_invalid_fields("invalid fields: url; the host is not allowed") == (
        ["url"],
        "the host is not allowed",
    )
    assert parse_invalid_fields("invalid fields: a.b, c") == (["a.b", "c"], None)


def test_settings_render_null_quiet_hours_for_the_http_answer() -> None:
    assert NotificationPreferences(time_zone="Europe/Berlin").body() == {
        "time_zone": "Europe/Berlin",
        "quiet_hours": None,
        "urgent_bypass": False,
        "urgent_while_paused": False,
    }


async def test_chained_handlers_run_in_order_and_single_ones_stay_as_they_are() -> None:
    seen: list[str] = []

    async def first(event: object) -> None:
        seen.append(f"first:{event}")

    async def second(event: object) -> None:
        seen.append(f"second:{event}")

    handlers = chained({"a": first, "b": first}, {"a": second})
    await handlers["a"]("e1")
    assert seen == ["first:e1", "second:e1"]
    assert handlers["b"] is first
