"""Linking a new device (API.md "History on a new device"), through the running services: a
device sends another device of its own account a boxed secret; the target gets a `link` frame
on whichever gateway replica holds its socket, or fetches it; it is delivered once (gone when
acknowledged) and expires; other accounts' devices do not exist; audited and rate limited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import nacl.public
import pytest
from pymongo import AsyncMongoClient

from haven_crypto import crypto
from shared.events import utcnow
from tests.support.inprocess import AppStack
from tests.support.ws import bearer, frame_of_type, next_frame, ws_url
from tools.api import Api, Session

LINK_TTL = 4.0
SHARED_STACK: dict[str, str] = {"HAVEN_LINK_TTL_SECONDS": str(LINK_TTL)}


@dataclass
class Account:
    phone: Session
    laptop: Session
    stranger: Session  # a device of another account


@pytest.fixture
async def account(api: Api, operator: Session) -> Account:
    tag = uuid.uuid4().hex[:8]
    coach = await api.onboard(operator, "coach", f"coach_ln{tag}")
    phone = await api.onboard(coach, "client", f"client_ln{tag}")
    laptop = await api.login(phone.handle, phone.password, name="new laptop")
    return Account(phone, laptop, coach)


def boxed(sender: Session, target: Session, secret: bytes = b'{"v":1}') -> str:
    """A box from the sender's kx key to the target's, as history.md's secret transfer is."""
    box = nacl.public.Box(sender.keys.kx, target.keys.kx.public_key)
    return crypto.b64e(bytes(box.encrypt(secret)))


async def link(api: Api, sender: Session, target_id: str, ciphertext: str, **extra: str) -> object:
    body = {"ciphertext": ciphertext, "sender_device_id": sender.device_id, **extra}
    return await api.call("POST", f"/v1/devices/{target_id}/link", body, sender.access_token)


async def test_a_link_reaches_the_new_device_once(
    api: Api, account: Account, app_stack: AppStack, mongo_client: AsyncMongoClient,
    isolation: tuple[str, str],
) -> None:  # fmt: skip
    phone, laptop = account.phone, account.laptop
    ciphertext = boxed(phone, laptop, b"the backup secret")
    async with api.http.ws_connect(ws_url(app_stack), headers=bearer(laptop.access_token)) as ws:
        assert await next_frame(ws) == {"type": "ready"}
        sent = await link(api, phone, laptop.device_id, ciphertext)
        assert sent.status == 201, sent.body  # type: ignore[attr-defined]
        link_id = sent.body["link_id"]  # type: ignore[attr-defined]
        frame = await frame_of_type(ws, "link")
    assert frame == {
        "type": "link",
        "link_id": link_id,
        "sender_device_id": phone.device_id,
        "ciphertext": ciphertext,
        "created_at": frame["created_at"],
    }
    box = nacl.public.Box(laptop.keys.kx, phone.keys.kx.public_key)
    assert box.decrypt(crypto.b64d(frame["ciphertext"])) == b"the backup secret"

    listed = await api.call("GET", "/v1/me/links", token=laptop.access_token)
    assert [item["link_id"] for item in listed.body["links"]] == [link_id]
    assert listed.body["links"][0]["ciphertext"] == ciphertext
    assert (await api.call("GET", "/v1/me/links", token=phone.access_token)).body == {"links": []}
    acked = await api.call("DELETE", f"/v1/me/links/{link_id}", token=laptop.access_token)
    assert acked.status == 204
    assert (await api.call("GET", "/v1/me/links", token=laptop.access_token)).body == {"links": []}
    again = await api.call("DELETE", f"/v1/me/links/{link_id}", token=laptop.access_token)
    assert again.status == 404 and again.code == "not_found"

    audit = mongo_client[f"{isolation[1]}_gateway"]["audit"]
    sent_entry = await audit.find_one({"type": "device_link_sent", "details.link_id": link_id})
    assert sent_entry is not None and sent_entry["device_id"] == phone.device_id
    assert sent_entry["details"]["target_device_id"] == laptop.device_id
    assert "ciphertext" not in str(sent_entry)
    got = await audit.find_one({"type": "device_link_received", "details.link_id": link_id})
    assert got is not None and got["device_id"] == laptop.device_id


async def test_an_offline_device_fetches_its_link_and_it_expires(
    api: Api, account: Account, mongo_client: AsyncMongoClient, isolation: tuple[str, str]
) -> None:
    phone, laptop = account.phone, account.laptop
    first = await link(api, phone, laptop.device_id, boxed(phone, laptop))
    assert first.status == 201  # type: ignore[attr-defined]
    listed = await api.call("GET", "/v1/me/links", token=laptop.access_token)
    assert [i["link_id"] for i in listed.body["links"]] == [first.body["link_id"]]  # type: ignore[attr-defined]
    exported = await api.call("GET", "/v1/me/export", token=phone.access_token)
    assert [item["link_id"] for item in exported.body["links"]] == [first.body["link_id"]]  # type: ignore[attr-defined]
    # It lives LINK_TTL seconds from when it was sent...
    links = mongo_client[f"{isolation[1]}_gateway"]["links"]
    stored = await links.find_one({"_id": first.body["link_id"]})  # type: ignore[attr-defined]
    assert stored is not None
    assert stored["expires_at"] - stored["created_at"] == timedelta(seconds=LINK_TTL)
    # ...and once that time has passed (moved back, not waited for) it is not handed out.
    await links.update_one(
        {"_id": stored["_id"]}, {"$set": {"expires_at": utcnow() - timedelta(milliseconds=1)}}
    )
    assert (await api.call("GET", "/v1/me/links", token=laptop.access_token)).body == {"links": []}
    late = await api.call(
        "DELETE",
        f"/v1/me/links/{first.body['link_id']}",
        token=laptop.access_token,  # type: ignore[attr-defined]
    )
    assert late.status in (204, 404)  # expired: acknowledging it is harmless either way


async def test_only_another_device_of_the_same_account_can_be_linked(
    api: Api, account: Account
) -> None:
    phone, laptop, stranger = account.phone, account.laptop, account.stranger
    ciphertext = boxed(phone, laptop)
    for target in (stranger.device_id, "no-such-device", "x" * 64):
        reply = await link(api, phone, target, ciphertext)
        assert (reply.status, reply.code) == (404, "not_found"), target  # type: ignore[attr-defined]
    # The stranger cannot send to this account's devices either.
    reply = await link(api, stranger, laptop.device_id, boxed(stranger, laptop))
    assert (reply.status, reply.code) == (404, "not_found")  # type: ignore[attr-defined]
    # sender_device_id must be the calling device.
    body = {"ciphertext": ciphertext, "sender_device_id": laptop.device_id}
    reply = await api.call("POST", f"/v1/devices/{laptop.device_id}/link", body, phone.access_token)
    assert (reply.status, reply.code) == (403, "forbidden")
    reply = await link(api, phone, phone.device_id, ciphertext)
    assert (reply.status, reply.code) == (422, "invalid_request")  # type: ignore[attr-defined]
    for bad in (
        crypto.b64e(bytes(40)),  # shorter than a box
        crypto.b64e(bytes(4097)),
        ciphertext + "=",
        "not base64!",
    ):
        reply = await link(api, phone, laptop.device_id, bad)
        assert (reply.status, reply.code) == (422, "invalid_request")  # type: ignore[attr-defined]
    extra = await link(api, phone, laptop.device_id, ciphertext, surprise="x")
    assert extra.status == 422  # type: ignore[attr-defined]
    # A revoked device is gone, and so is what waited for it.
    waiting = await link(api, phone, laptop.device_id, ciphertext)
    assert waiting.status == 201  # type: ignore[attr-defined]
    revoked = await api.call("DELETE", f"/v1/devices/{laptop.device_id}", token=phone.access_token)
    assert revoked.status == 204
    exported = await api.call("GET", "/v1/me/export", token=phone.access_token)
    assert exported.body["links"] == []
    reply = await link(api, phone, laptop.device_id, ciphertext)
    assert (reply.status, reply.code) == (404, "not_found")  # type: ignore[attr-defined]
    # None of it was stored for the stranger or anyone.
    listed = await api.call("GET", "/v1/me/links", token=stranger.access_token)
    assert listed.body == {"links": []}


async def test_links_are_rate_limited_per_account(api: Api, account: Account) -> None:
    phone, laptop = account.phone, account.laptop
    answers = [
        (await link(api, phone, laptop.device_id, boxed(phone, laptop))).status  # type: ignore[attr-defined]
        for _ in range(6)
    ]
    assert answers == [201] * 5 + [429]
    last = await link(api, laptop, phone.device_id, boxed(laptop, phone))
    assert last.status == 429 and int(last.headers["Retry-After"]) > 0  # type: ignore[attr-defined]


async def test_the_link_frame_reaches_a_socket_on_another_gateway_replica(
    api: Api, account: Account, app_stack: AppStack
) -> None:
    other = await app_stack.start_extra("gateway", "link")
    try:
        url = ws_url(type("Replica", (), {"gateway_url": app_stack.health_url(other)})())
        async with api.http.ws_connect(url, headers=bearer(account.laptop.access_token)) as ws:
            assert await next_frame(ws) == {"type": "ready"}
            ciphertext = boxed(account.phone, account.laptop)
            sent = await link(api, account.phone, account.laptop.device_id, ciphertext)
            assert sent.status == 201  # type: ignore[attr-defined]
            frame = await frame_of_type(ws, "link")
        assert frame["link_id"] == sent.body["link_id"]  # type: ignore[attr-defined]
        assert frame["ciphertext"] == ciphertext
    finally:
        await app_stack.stop(other)
