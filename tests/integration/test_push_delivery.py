"""Sending pushes: one signed, content-free push per burst, bodies by detail, retries through
delay queues then dead letters, 410, sealed secrets, unacknowledged deliveries, deleted accounts
(harness: tests/integration/push_world.py)."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from services.notification.push.signing import DELIVERY, verify
from services.notification.settings import parse_delays
from shared.events import (
    AccountData,
    AccountDeleted,
    DeliveryFailed,
    DeliveryFailedData,
    DeviceData,
    DeviceRemoved,
    ReceiptData,
    ReceiptRead,
)
from shared.notify_contracts import (
    PUSH_DELETE,
    PUSH_GET,
    PushSubscriptionQuery,
    PushSubscriptionReply,
)
from shared.rpc import RpcError
from tests.integration.push_world import (
    CIPHERTEXT,
    COLLAPSE,
    DELAYS,
    SECRETS,
    World,
    relationship,
    stored,
)

# --- sending ------------------------------------------------------------------------------


async def test_a_burst_gives_a_signed_content_free_push_at_once_and_one_at_the_windows_end(
    world: World,
) -> None:
    assert await world.subscribe("cd1", "coach") == PushSubscriptionReply(
        set=True, kind="webhook", host="127.0.0.1"
    )
    started = time.monotonic()  # the window opens after this, when the first push leaves
    for n in (1, 2, 3):
        await world.emit(stored(f"m{n}", ["cd1", "cd2"], seq=n))

    first, push = await world.receiver.wait_for("cd1", 2)
    assert json.loads(first.body) == {"event": "new_message", "conversation_id": "c1", "unread": 1}
    assert json.loads(push.body) == {"event": "new_message", "conversation_id": "c1", "unread": 3}
    assert push.at - started >= COLLAPSE * 0.9  # the second waited for the window's end
    assert verify(SECRETS["cd1"], push.headers, push.body, now=time.time())
    assert not verify(SECRETS["cd2"], push.headers, push.body, now=time.time())
    assert push.headers[DELIVERY] != first.headers[DELIVERY]
    assert await world.unsent("cd1") == []  # sent
    assert world.receiver.of("cd2") == []  # no subscription: nothing pushed, the row waits
    assert await world.unsent("cd2") == ["m1", "m2", "m3"]

    # A later message: a new burst, one more push; the unread count goes on until read. Its
    # push is the fence for the burst: had the burst given more than two, the third would be
    # before it (it waits for the window the burst's second opened).
    await world.emit(stored("m4", ["cd1"], seq=4))
    pushes = await world.receiver.wait_for("cd1", 3)
    assert len(pushes) == 3  # the first at once, the rest collapsed, then m4's
    second = pushes[2]
    assert json.loads(second.body)["unread"] == 4
    assert second.headers[DELIVERY] != push.headers[DELIVERY]
    await world.emit(
        ReceiptRead.create(ReceiptData(conversation_id="c1", account_id="coach", up_to_seq=4))
    )
    await world.emit(stored("m5", ["cd1"], seq=5))
    third = (await world.receiver.wait_for("cd1", 4))[3]
    assert json.loads(third.body)["unread"] == 1


async def test_push_bodies_follow_notification_detail_and_never_hold_content(
    world: World,
) -> None:
    await world.subscribe("cd1", "coach")
    await world.subscribe("cd2", "coach")
    await world.emit(relationship("c2", "coach", "client"))
    await world.detail("coach", "c1", "sender")
    await world.detail("coach", "c2", "none")

    await world.emit(stored("u1", ["cd1"], urgent=True))
    await world.emit(stored("u2", ["cd2"], conversation="c2", urgent=True))
    [with_name] = await world.receiver.wait_for("cd1", 1)
    [sync] = await world.receiver.wait_for("cd2", 1)

    assert json.loads(with_name.body) == {
        "event": "new_message",
        "conversation_id": "c1",
        "unread": 1,
        "sender_display_name": "Sam",
        "urgent": True,
    }
    assert json.loads(sync.body) == {"event": "sync"}  # `none`: not even urgent
    for push in world.receiver.received:
        for content in (CIPHERTEXT.encode(), b"u1", b"u2", b"kd1", b"haven-v1"):
            assert content not in push.body


async def test_a_failing_gateway_sees_retries_at_growing_intervals_then_a_dead_letter(
    world: World,
) -> None:
    await world.subscribe("cd1", "coach", status=503)
    await world.emit(stored("m1", ["cd1"], urgent=True))

    attempts = await world.receiver.wait_for("cd1", 4)
    [dead] = await world.dead_letters(1)

    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts)]
    for gap, delay in zip(gaps, parse_delays(DELAYS), strict=True):
        assert gap >= delay / 1000 * 0.9
    assert gaps == sorted(gaps)
    assert len({a.headers[DELIVERY] for a in attempts}) == 1  # one delivery, four attempts
    assert all(verify(SECRETS["cd1"], a.headers, a.body, now=time.time()) for a in attempts)
    assert dead["failure"] == "http_503"
    assert dead["attempt"] == 3
    assert dead["delivery_id"] == attempts[0].headers[DELIVERY]
    assert "secret" not in json.dumps(dead)
    await world.until_logged(1, "push_dead_lettered")  # fence: the last attempt was handled
    assert await world.jobs_waiting() == 0  # and left no retry behind
    assert len(world.receiver.of("cd1")) == 4  # nothing after the dead letter


async def test_a_gateway_answering_410_removes_the_subscription(world: World) -> None:
    await world.subscribe("cd1", "coach", status=410)
    query = PushSubscriptionQuery(account_id="coach", device_id="cd1")
    assert (await world.rpc.call(PUSH_GET, query)).set

    await world.emit(stored("m1", ["cd1"], urgent=True))
    await world.receiver.wait_for("cd1", 1)
    await world.until_logged(1, "push_subscription_gone", device_id="cd1")  # fence: handled

    assert (await world.rpc.call(PUSH_GET, query)) == PushSubscriptionReply(set=False)
    assert await world.db["push_subscriptions"].count_documents({}) == 0
    assert await world.unsent("cd1") == []
    assert await world.jobs_waiting() == 0  # no retry waits
    assert len(world.receiver.of("cd1")) == 1  # 410 is not retried


async def test_a_4xx_other_than_410_is_dead_lettered_without_retry(world: World) -> None:
    await world.subscribe("cd1", "coach", status=400)
    await world.emit(stored("m1", ["cd1"], urgent=True))
    [dead] = await world.dead_letters(1)
    assert (dead["failure"], dead["attempt"]) == ("http_400", 0)
    assert len(world.receiver.of("cd1")) == 1


async def test_subscriptions_are_stored_sealed_and_go_with_their_device(world: World) -> None:
    await world.subscribe("cd1", "coach")
    await world.subscribe("cd2", "coach")
    stored_doc = await world.db["push_subscriptions"].find_one({"_id": "cd1"})
    assert SECRETS["cd1"].encode() not in bytes(stored_doc["secret"])
    assert SECRETS["cd1"] not in json.dumps(stored_doc, default=str)

    other = PushSubscriptionQuery(account_id="client", device_id="cd1")
    assert (await world.rpc.call(PUSH_GET, other)) == PushSubscriptionReply(set=False)
    with pytest.raises(RpcError) as caught:
        await world.rpc.call(PUSH_DELETE, other)
    assert caught.value.code == "not_found"

    await world.emit(stored("m1", ["cd2"], seq=1))
    await world.receiver.wait_for("cd2", 1)  # at once; m2 waits for the window it opened
    await world.emit(stored("m2", ["cd2"], seq=2))
    await world.emit(DeviceRemoved.create(DeviceData(account_id="coach", device_id="cd2")))
    assert await world.db["push_subscriptions"].find_one({"_id": "cd2"}) is None
    assert await world.db["pending"].count_documents({"device_id": "cd2"}) == 0
    with pytest.raises(RpcError) as removed:
        await world.subscribe("cd2", "coach")
    assert removed.value.code == "not_found"

    mine = PushSubscriptionQuery(account_id="coach", device_id="cd1")
    assert (await world.rpc.call(PUSH_DELETE, mine)) == PushSubscriptionReply(set=False)
    assert (await world.rpc.call(PUSH_GET, mine)) == PushSubscriptionReply(set=False)
    # Fence: nothing is left that a sweeper or the push consumer could still send.
    assert await world.db["push_slots"].count_documents({"device_id": "cd2"}) == 0
    assert await world.jobs_waiting() == 0
    assert world.logged("push_queued") == 1
    assert len(world.receiver.received) == 1  # m1's; m2 went with its device


async def test_a_delivery_a_socket_never_acknowledged_becomes_a_push_too(world: World) -> None:
    """The gateway routed it (the socket was there) but got no ack: `delivery.failed`."""
    await world.subscribe("cd1", "coach")
    await world.emit(stored("m9", [], urgent=True, seq=9))  # as if routed to cd1's socket
    failed = DeliveryFailedData(
        device_id="cd1", conversation_id="c1", message_id="m9", urgent=True, seq=9
    )
    await world.emit(DeliveryFailed.create(failed))
    [push] = await world.receiver.wait_for("cd1", 1)
    assert json.loads(push.body) == {
        "event": "new_message",
        "conversation_id": "c1",
        "unread": 1,
        "urgent": True,  # the failure carries it from the frame the socket never acked
    }


async def test_a_deleted_account_loses_its_push_data(world: World) -> None:
    await world.subscribe("cd1", "coach")
    await world.detail("coach", "c1", "sender")
    await world.emit(stored("m1", ["cd1"], seq=1))
    await world.receiver.wait_for("cd1", 1)  # at once; m2 waits for the window it opened
    await world.emit(stored("m2", ["cd1"], seq=2))
    await world.emit(AccountDeleted.create(AccountData(account_id="coach")))
    for collection in ("push_subscriptions", "notification_details", "push_slots"):
        assert await world.db[collection].count_documents({}) == 0, collection
    assert await world.db["pending"].count_documents({"account_id": "coach"}) == 0
    names = await world.db["display_names"].find_one({"_id": "c1"})
    assert [entry["account_id"] for entry in names["names"]] == ["client"]
    # Fence: no slot is left for a sweeper (above), no job for the push consumer.
    assert await world.jobs_waiting() == 0
    assert world.logged("push_queued") == 1
    assert len(world.receiver.received) == 1  # m1's; m2 went with the account


# --- the URL guard, at registration and at every send --------------------------------------
