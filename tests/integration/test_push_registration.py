"""Registering a push gateway: the allowlist and address rules at registration and again at
every send, and the development switch (harness: tests/integration/push_world.py)."""

from __future__ import annotations

import pytest

from shared.notify_contracts import (
    INVALID_FIELD,
    PUSH_PUT,
    PushSubscriptionPut,
)
from shared.rpc import RpcError
from tests.integration.push_world import (
    SECRETS,
    OpenWorld,
    World,
    stored,
)


async def put_refused(world: World, url: str) -> tuple[list[str], str | None]:
    request = PushSubscriptionPut(
        account_id="coach", device_id="cd1", url=url, secret=SECRETS["cd1"]
    )
    with pytest.raises(RpcError) as caught:
        await world.rpc.call(PUSH_PUT, request)
    assert caught.value.code == INVALID_FIELD
    return (caught.value.fields, caught.value.reason)


async def test_registration_refuses_allowlist_misses_private_and_loopback_addresses(
    open_world: OpenWorld,
) -> None:
    async with open_world(
        HAVEN_PUSH_INSECURE_ALLOW_LOOPBACK="0",
        HAVEN_PUSH_ALLOWED_HOSTS="localhost,10.0.0.7,*.example.com",
    ) as world:
        port = world.receiver.port
        assert await put_refused(world, "https://push.elsewhere.net/p") == (
            ["url"],
            "the host is not on the operator's allowlist",
        )
        assert await put_refused(world, "https://10.0.0.7/p") == (
            ["url"],
            "the host is a private address",
        )
        assert await put_refused(world, f"https://localhost:{port}/cd1/200") == (
            ["url"],
            "the host resolves to a loopback address",
        )
        assert (await put_refused(world, f"http://127.0.0.1:{port}/cd1/200"))[1] == (
            "only https URLs are allowed"
        )
        assert (await put_refused(world, "https://me:pw@push.example.com/p"))[1] == (
            "credentials are not allowed in the URL"
        )
        assert await world.db["push_subscriptions"].count_documents({}) == 0
        assert not any(
            line.get("event") == "push_insecure_loopback_allowed" for line in world.apps.logs.lines
        )


async def test_the_development_switch_is_announced_at_start(world: World) -> None:
    warning = await world.apps.wait_for_log("notification", event="push_insecure_loopback_allowed")
    assert warning["level"] == "warning"


async def test_a_subscription_whose_host_now_resolves_to_loopback_is_refused_at_send(
    open_world: OpenWorld,
) -> None:
    """Registered while the switch was on (as if DNS said otherwise then); sending checks the
    address again and dead-letters the push instead of connecting."""
    async with open_world(HAVEN_PUSH_ALLOWED_HOSTS="localhost") as world:
        url = f"https://localhost:{world.receiver.port}/cd1/200"
        await world.rpc.call(
            PUSH_PUT,
            PushSubscriptionPut(account_id="coach", device_id="cd1", url=url, secret="x" * 32),
        )
    async with open_world(
        HAVEN_PUSH_INSECURE_ALLOW_LOOPBACK="0", HAVEN_PUSH_ALLOWED_HOSTS="localhost"
    ) as world:
        await world.emit(stored("m1", ["cd1"], urgent=True))
        [dead] = await world.dead_letters(1)
        assert (dead["failure"], dead["attempt"]) == ("address_refused", 0)
        assert world.receiver.received == []
