"""The gateway's synchronous send checks, driven over HTTP like a companion app."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass

import pytest

from haven_crypto import crypto
from tools.api import Api, Session, device_keys_of, seal_for

SHARED_STACK: dict[str, str] = {}  # one stack for this module (tests/support/sharing.py)


@dataclass
class Pair:
    coach: Session
    client: Session
    outsider: Session
    conversation_id: str


@pytest.fixture
async def pair(api: Api, operator: Session) -> Pair:
    tag = uuid.uuid4().hex[:8]
    coach = await api.onboard(operator, "coach", f"coach_send{tag}")
    client = await api.onboard(coach, "client", f"client_send{tag}")
    other_coach = await api.onboard(operator, "coach", f"coach_other{tag}")
    outsider = await api.onboard(other_coach, "client", f"client_other{tag}")
    listed = await api.call("GET", "/v1/conversations", token=client.access_token)
    return Pair(coach, client, outsider, listed.body["conversations"][0]["conversation_id"])


async def _post(api: Api, who: Session, cid: str, envelope: object) -> object:
    return await api.call(
        "POST", f"/v1/conversations/{cid}/messages", {"envelope": envelope}, who.access_token
    )


async def test_valid_send_is_accepted_and_idempotent(api: Api, pair: Pair) -> None:
    devices = await device_keys_of(api, pair.client, pair.coach.account_id, pair.client.account_id)
    envelope = seal_for(pair.client, pair.conversation_id, devices)
    first = await _post(api, pair.client, pair.conversation_id, envelope)
    again = await _post(api, pair.client, pair.conversation_id, envelope)
    assert first.status == again.status == 202
    assert first.body == again.body == {"message_id": envelope["message_id"], "status": "accepted"}


async def test_device_set_must_match_exactly(api: Api, pair: Pair) -> None:
    devices = await device_keys_of(api, pair.client, pair.coach.account_id, pair.client.account_id)
    laptop = await api.login(pair.coach.handle, pair.coach.password, name="laptop")
    stale = seal_for(pair.client, pair.conversation_id, devices)
    reply = await _post(api, pair.client, pair.conversation_id, stale)
    assert reply.status == 409
    assert reply.code == "device_mismatch"
    assert reply.body["missing_devices"] == [laptop.device_id]
    assert reply.body["extra_devices"] == []
    devices[laptop.device_id] = laptop.keys.kx_public
    devices["made-up-device"] = laptop.keys.kx_public
    extra = seal_for(pair.client, pair.conversation_id, devices)
    reply = await _post(api, pair.client, pair.conversation_id, extra)
    assert reply.status == 409 and reply.body["extra_devices"] == ["made-up-device"]


async def test_outsiders_and_forgers_are_refused(api: Api, pair: Pair) -> None:
    devices = await device_keys_of(api, pair.client, pair.coach.account_id, pair.client.account_id)
    own = {pair.outsider.device_id: pair.outsider.keys.kx_public}
    outsider_env = seal_for(pair.outsider, pair.conversation_id, {**devices, **own})
    assert (await _post(api, pair.outsider, pair.conversation_id, outsider_env)).status == 404
    assert (
        await _post(
            api,
            pair.client,
            "no-such-conversation",
            seal_for(pair.client, "no-such-conversation", devices),
        )
    ).status == 404
    as_coach = seal_for(pair.client, pair.conversation_id, devices)
    as_coach["sender_device_id"] = pair.coach.device_id
    assert (await _post(api, pair.client, pair.conversation_id, as_coach)).status == 403
    tampered = seal_for(pair.client, pair.conversation_id, devices)
    raw = bytearray(crypto.b64d(tampered["ciphertext"]))
    raw[0] ^= 1
    tampered["ciphertext"] = crypto.b64e(bytes(raw))
    reply = await _post(api, pair.client, pair.conversation_id, tampered)
    assert reply.status == 422 and reply.code == "bad_signature"
    history = await api.call(
        "GET",
        f"/v1/conversations/{pair.conversation_id}/messages",
        token=pair.outsider.access_token,
    )
    assert history.status == 404


async def test_urgent_rules_and_crisis_resources_on_every_answer(api: Api, pair: Pair) -> None:
    devices = await device_keys_of(api, pair.client, pair.coach.account_id, pair.client.account_id)
    urgent = seal_for(pair.client, pair.conversation_id, devices, urgent=True)
    ok = await _post(api, pair.client, pair.conversation_id, urgent)
    assert ok.status == 202 and ok.body["crisis_resources"]
    coach_devices = await device_keys_of(
        api, pair.coach, pair.coach.account_id, pair.client.account_id
    )
    coach_urgent = seal_for(pair.coach, pair.conversation_id, coach_devices, urgent=True)
    refused = await _post(api, pair.coach, pair.conversation_id, coach_urgent)
    assert refused.status == 422 and refused.body["crisis_resources"]
    flipped = copy.deepcopy(urgent)
    flipped["message_id"] = str(uuid.uuid4())
    flipped["urgent"] = True
    reply = await _post(api, pair.client, pair.conversation_id, flipped)
    assert reply.status == 422 and reply.body["crisis_resources"]
    public = await api.call("GET", "/v1/crisis-resources")
    assert public.status == 200 and public.body["resources"] == ok.body["crisis_resources"]


async def test_malformed_envelopes_name_the_field(api: Api, pair: Pair) -> None:
    devices = await device_keys_of(api, pair.client, pair.coach.account_id, pair.client.account_id)
    good = seal_for(pair.client, pair.conversation_id, devices)
    cases = {
        "envelope.nonce": {**good, "nonce": "AAAA"},
        "envelope.message_id": {**good, "message_id": "not-a-uuid"},
        "envelope.signature": {**good, "signature": good["signature"] + "="},
        "envelope.urgent": {**good, "urgent": "yes"},
    }
    for field, envelope in cases.items():
        reply = await _post(api, pair.client, pair.conversation_id, envelope)
        assert reply.status == 422, (field, reply.body)
        assert field in {e["field"] for e in reply.body["errors"]}, (field, reply.body)
    missing = {k: v for k, v in good.items() if k != "keys"}
    assert (await _post(api, pair.client, pair.conversation_id, missing)).status == 422
    big = seal_for(pair.client, pair.conversation_id, devices, text="x" * 70_000)
    reply = await _post(api, pair.client, pair.conversation_id, big)
    assert reply.status == 413


async def test_ended_conversation_is_read_only(api: Api, pair: Pair) -> None:
    await api.call(
        "POST", f"/v1/conversations/{pair.conversation_id}/end", token=pair.coach.access_token
    )
    devices = await device_keys_of(api, pair.client, pair.coach.account_id, pair.client.account_id)
    reply = await _post(
        api, pair.client, pair.conversation_id, seal_for(pair.client, pair.conversation_id, devices)
    )
    assert reply.status == 409 and reply.code == "conflict"
