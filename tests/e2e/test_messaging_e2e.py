"""The whole path with SDK devices: device → gateway → messaging → MongoDB → notification →
every recipient device, decrypted, in seq order, exactly once.

The journeys share one stack of processes (`shared_stack`), each with its own cast (unique
handles); the test that stops services comes last."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from haven_crypto import crypto
from tests.support.plaintext import assert_no_plaintext, server_texts
from tests.support.sdk import SdkDevice
from tests.support.ws import bearer, ws_url
from tools.api import Api, Session
from tools.stack import Stack


@dataclass
class Cast:
    coach_phone: SdkDevice
    coach_laptop: SdkDevice
    client: SdkDevice
    conversation_id: str
    devices: list[SdkDevice]
    coach_handle: str
    coach_password: str


async def _sdk_cast(api: Api, operator: Session, base_urls: list[str], tmp: Path, tag: str) -> Cast:
    """A coach with a phone and a laptop, a client with a phone, all connected; `tag` makes
    the handles unique on a shared stack."""
    coach, client_handle, password = f"coach_{tag}", f"client_{tag}", f"password-{tag}-1"
    coach_code = await api.invite(operator, "coach")
    phone = await SdkDevice.create(base_urls[0], tmp, "coach-phone")
    await phone.client.register(coach, password, coach_code, "Coach")
    await phone.client.login(coach, password, device_name="phone")
    laptop = await SdkDevice.create(base_urls[-1], tmp, "coach-laptop")
    await laptop.client.login(coach, password, device_name="laptop")
    client_code = (await phone.client.create_invite("client")).code
    client = await SdkDevice.create(base_urls[0], tmp, "client-phone")
    await client.client.register(client_handle, password, client_code, "Sam")
    await client.client.login(client_handle, password, device_name="phone")
    [conversation] = await client.client.conversations()
    devices = [phone, laptop, client]
    for device in devices:
        await device.client.conversations()
        device.listen()
        await device.connect()
    return Cast(phone, laptop, client, conversation.conversation_id, devices, coach, password)


@pytest.fixture
async def cast(
    shared_api: Api, shared_operator: Session, shared_stack: Stack, tmp_path: Path, unique: str
) -> AsyncIterator[Cast]:
    value = await _sdk_cast(
        shared_api, shared_operator, [shared_stack.gateway_url], tmp_path, unique
    )
    yield value
    for device in value.devices:
        await device.close()


@pytest.fixture(scope="module")
def second_gateway(shared_stack: Stack) -> Iterator[str]:
    """A second gateway replica on the shared stack; its URL."""
    name = shared_stack.start_extra("gateway", "b")
    shared_stack.wait_ready()
    yield shared_stack.health_url(name)
    if name in shared_stack.processes:  # else stopped with the whole stack
        shared_stack.stop(name)


def texts(prefix: str, n: int) -> list[str]:
    return [f"{prefix} message {i} — a private thought" for i in range(n)]


async def test_messages_both_ways_reach_every_device_once_in_seq_order(cast: Cast) -> None:
    coach_says, client_says = texts("coach", 3), texts("client", 3)
    for a, b in zip(coach_says, client_says, strict=True):
        await cast.coach_phone.client.send_text(cast.conversation_id, a)
        await cast.client.client.send_text(cast.conversation_id, b)
    everything = set(coach_says + client_says)
    await cast.coach_laptop.wait_for(lambda _: set(cast.coach_laptop.bodies()) == everything)
    await cast.client.wait_for(lambda _: set(cast.client.bodies()) >= set(coach_says))
    await cast.coach_phone.wait_for(lambda _: set(cast.coach_phone.bodies()) >= set(client_says))
    laptop = cast.coach_laptop.received()
    seqs = [m.seq for m in sorted(laptop, key=lambda m: m.seq)]
    assert seqs == sorted(set(seqs))
    # Each sender's messages carry increasing seqs in the order they were sent.
    for said in (coach_says, client_says):
        order = [next(m.seq for m in laptop if m.body == text) for text in said]
        assert order == sorted(order)
    assert not any(d.invalid() for d in cast.devices)


async def test_an_offline_device_catches_up_on_reconnect(cast: Cast) -> None:
    await cast.coach_laptop.client.close_connection()
    missed = texts("while away", 3)
    for text in missed:
        await cast.client.client.send_text(cast.conversation_id, text)
    await cast.coach_phone.wait_for(lambda _: set(cast.coach_phone.bodies()) >= set(missed))
    assert not set(cast.coach_laptop.bodies()) & set(missed)
    await cast.coach_laptop.connect()
    await cast.coach_laptop.wait_for(lambda _: set(cast.coach_laptop.bodies()) >= set(missed))
    assert cast.coach_laptop.bodies() == missed


def refusals_logged(stack: Stack, status: int) -> int:
    """How many sends (`POST /v1/conversations/{…}/messages`) the gateway has answered with
    `status`, by its own log."""
    return sum(
        line.get("event") == "http_request"
        and line.get("method") == "POST"
        and str(line.get("route")).startswith("/v1/conversations/")
        and str(line.get("route")).endswith("/messages")
        and line.get("status") == status
        for line in stack.log_lines("gateway")
    )


async def test_a_new_device_gets_409_and_the_sdk_recovers_unnoticed(
    cast: Cast, shared_stack: Stack, tmp_path: Path
) -> None:
    cid, sender = cast.conversation_id, cast.client
    await sender.client.send_text(cid, "before the new device")  # caches the coach's devices
    await cast.coach_laptop.wait_for(
        lambda _: "before the new device" in cast.coach_laptop.bodies()
    )
    # Offline, the client hears no devices_changed: its cached list will miss the tablet.
    await sender.client.close_connection()
    tablet = await SdkDevice.create(shared_stack.gateway_url, tmp_path, "coach-tablet")
    try:
        await tablet.client.login(cast.coach_handle, cast.coach_password, device_name="tablet")
        await tablet.client.conversations()
        tablet.listen()
        await tablet.connect()
        path = f"/v1/conversations/{cid}/messages"
        sent_before, refused_before = (
            len(sender.http_log.to("POST", path)),
            refusals_logged(shared_stack, 409),
        )

        message_id = await sender.client.send_text(cid, "after the new device")

        answers = sender.http_log.to("POST", path)[sent_before:]
        assert [(a.status, a.code) for a in answers] == [(409, "device_mismatch"), (202, None)]
        assert refusals_logged(shared_stack, 409) == refused_before + 1  # the gateway agrees
        await tablet.wait_for(lambda _: "after the new device" in tablet.bodies())
        await cast.coach_laptop.wait_for(
            lambda _: "after the new device" in cast.coach_laptop.bodies()
        )
        [delivered] = [m for m in tablet.received() if m.body == "after the new device"]
        assert delivered.message_id == message_id  # one message, re-sealed: not a second one
        assert cast.coach_laptop.bodies().count("after the new device") == 1
        assert not cast.coach_laptop.invalid()
        # The tablet may list what came before it as unreadable to it, never this message.
        assert all(e.predates_device for e in tablet.invalid())
    finally:
        await tablet.close()


async def test_a_flipped_byte_in_the_stored_envelope_is_rejected_loudly(
    cast: Cast, shared_mongo: AsyncMongoClient, shared_names: tuple[str, str]
) -> None:
    await cast.coach_laptop.client.close_connection()
    message_id = await cast.client.client.send_text(cast.conversation_id, "tamper with me")
    messages = shared_mongo[f"{shared_names[1]}_messaging"]["messages"]
    async with asyncio.timeout(15):
        while (stored := await messages.find_one({"message_id": message_id})) is None:
            await asyncio.sleep(0.1)
    ciphertext = bytearray(crypto.b64d(stored["envelope"]["ciphertext"]))
    ciphertext[len(ciphertext) // 2] ^= 0x01
    await messages.update_one(
        {"_id": stored["_id"]}, {"$set": {"envelope.ciphertext": crypto.b64e(bytes(ciphertext))}}
    )
    await cast.coach_laptop.connect()  # syncs with after_seq from the stored (tampered) copy
    await cast.coach_laptop.wait_for(
        lambda _: any(e.message_id == message_id for e in cast.coach_laptop.invalid())
    )
    assert "tamper with me" not in cast.coach_laptop.bodies()


async def test_an_outsider_can_neither_read_nor_send_nor_list_devices(
    cast: Cast, shared_api: Api, shared_operator: Session, unique: str
) -> None:
    api = shared_api
    other_coach = await api.onboard(shared_operator, "coach", f"coach_out_{unique}")
    outsider = await api.onboard(other_coach, "client", f"client_out_{unique}")
    cid = cast.conversation_id
    history = await api.call(
        "GET", f"/v1/conversations/{cid}/messages", token=outsider.access_token
    )
    assert history.status == 404
    coach_id = (await cast.coach_phone.client.me()).account_id
    devices = await api.call("GET", f"/v1/accounts/{coach_id}/devices", token=outsider.access_token)
    assert devices.status == 404
    send = await api.call(
        "POST",
        f"/v1/conversations/{cid}/messages",
        {"envelope": {"message_id": "x"}},
        outsider.access_token,
    )
    assert send.status in (404, 422)


async def test_two_gateway_replicas_deliver_to_devices_spread_across_them(
    shared_api: Api,
    shared_operator: Session,
    shared_stack: Stack,
    second_gateway: str,
    tmp_path: Path,
    unique: str,
) -> None:
    urls = [shared_stack.gateway_url, second_gateway]
    cast = await _sdk_cast(shared_api, shared_operator, urls, tmp_path, unique)
    try:
        coach_says, client_says = texts("coach", 2), texts("client", 2)
        for a, b in zip(coach_says, client_says, strict=True):
            await cast.coach_laptop.client.send_text(cast.conversation_id, a)  # via replica b
            await cast.client.client.send_text(cast.conversation_id, b)  # via replica a
        everything = set(coach_says + client_says)
        await cast.coach_phone.wait_for(lambda _: set(cast.coach_phone.bodies()) == everything)
        await cast.coach_laptop.wait_for(
            lambda _: set(cast.coach_laptop.bodies()) >= set(client_says)
        )
        await cast.client.wait_for(lambda _: set(cast.client.bodies()) >= set(coach_says))
        assert not any(d.invalid() for d in cast.devices)
    finally:
        for device in cast.devices:
            await device.close()


async def test_one_socket_per_device_across_replicas(
    shared_api: Api, shared_operator: Session, shared_stack: Stack, second_gateway: str
) -> None:
    headers = bearer(shared_operator.access_token)
    first_ws = ws_url(shared_stack)
    second_ws = second_gateway.replace("http://", "ws://") + "/v1/ws"
    async with shared_api.http.ws_connect(first_ws, headers=headers) as old:
        assert (await old.receive_json(timeout=10)) == {"type": "ready"}
        async with shared_api.http.ws_connect(second_ws, headers=headers) as new:
            assert (await new.receive_json(timeout=10)) == {"type": "ready"}
            closing = await old.receive(timeout=10)
            assert closing.type == aiohttp.WSMsgType.CLOSE
            assert closing.data == 4409


async def test_no_plaintext_anywhere_on_the_server(
    cast: Cast,
    stoppable_stack: Stack,
    shared_mongo: AsyncMongoClient,
    shared_names: tuple[str, str],
) -> None:
    """Last: it stops the module's stack, then reads everything it kept."""
    stack = stoppable_stack
    secrets = ["my darkest secret 7f3a", "the panic came back 91bc"]
    await cast.client.client.send_text(cast.conversation_id, secrets[0], urgent=True)
    await cast.coach_phone.client.send_text(cast.conversation_id, secrets[1])
    await cast.coach_laptop.wait_for(lambda _: set(cast.coach_laptop.bodies()) >= set(secrets))
    await asyncio.to_thread(stack.stop, "messaging")  # the next command waits in its queue
    await cast.client.client.send_text(cast.conversation_id, secrets[1] + " queued")
    await asyncio.to_thread(stack.stop)
    dumps, logs, queued = await server_texts(stack, shared_mongo, shared_names)
    assert len(dumps) > 10
    assert any("message.send" in body for body in queued)  # the scan saw the queued command
    assert_no_plaintext(secrets, [*dumps, *logs, *queued])
