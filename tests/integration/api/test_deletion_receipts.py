"""Account deletion through the running services: the receipt is signed by a key of its own,
published apart from the token keys (and `haven-admin verify-receipt` checks it with that key),
and what stays of the account is stripped or named in the receipt's `keeps`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pymongo import AsyncMongoClient

from haven_crypto.receipts import verify_receipt
from services.gateway.cli import receipt as receipt_cli
from services.gateway.security.tokens import key_id, load_key
from services.gateway.settings import GatewaySettings
from tests.support.inprocess import AppStack, settings_from_env
from tools.api import Api, Session, coach_and_client

# One stack for this module's tests (tests/support/sharing.py); each has accounts of its own.
SHARED_STACK: dict[str, str] = {}


async def delete(api: Api, who: Session) -> dict[str, object]:
    answer = await api.call("POST", "/v1/me/delete", {"password": who.password}, who.access_token)
    assert answer.status == 202, answer.body
    body: dict[str, object] = answer.body
    return body


async def test_a_receipt_is_signed_by_a_receipt_key_published_apart_from_the_token_keys(
    api: Api, operator: Session, app_stack: AppStack, tmp_path: Path
) -> None:
    _, client, _, _ = await coach_and_client(api, operator, "rcpt")
    answer = await delete(api, client)
    receipt, signature = answer["receipt"], answer["receipt_signature"]
    assert isinstance(receipt, dict) and isinstance(signature, str)
    token_key = load_key(Path(app_stack.env["HAVEN_SIGNING_KEY_FILE"]))
    token_kid = key_id(token_key.public_key())
    assert receipt["key_id"] != token_kid  # not the key that signs access tokens

    published = (await api.call("GET", "/v1/keys")).body["keys"]
    assert [k["kid"] for k in published] == [receipt["key_id"]]  # no token key is published
    keys = {k["kid"]: k["public_key"] for k in published}
    assert verify_receipt(receipt, signature, keys)
    assert not verify_receipt(receipt, signature, {token_kid: token_key.public_key()})

    # The operator's offline check uses the configured receipt key, never the token key.
    saved = tmp_path / "receipt.json"
    saved.write_text(json.dumps(answer))
    settings = settings_from_env(GatewaySettings, app_stack.env)
    args = argparse.Namespace(file=saved, public_key=[])
    assert receipt_cli.run(settings, args) == 0
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**answer, "receipt": {**receipt, "handle": "someone"}}))
    assert receipt_cli.run(settings, argparse.Namespace(file=forged, public_key=[])) == 1


async def test_a_deletion_strips_device_keys_relationship_settings_and_used_invites(
    api: Api, operator: Session, app_stack: AppStack, mongo_client: AsyncMongoClient
) -> None:
    coach, client, cid, _ = await coach_and_client(api, operator, "resid")
    chosen = await api.call(
        "PUT", f"/v1/conversations/{cid}/settings", {"retention_days": 30}, client.access_token
    )
    assert chosen.status == 200, chosen.body
    answer = await delete(api, client)
    receipt = answer["receipt"]
    assert isinstance(receipt, dict)

    db = mongo_client[f"{app_stack.env['HAVEN_DB_PREFIX']}_gateway"]
    devices = [d async for d in db["devices"].find({"account_id": client.account_id})]
    assert devices and all(
        not d.get("kx_key")
        and not d.get("kx_signature")
        and not d.get("previous_kx_keys")
        and not d.get("name")
        for d in devices
    )
    relationship = await db["relationships"].find_one({"_id": cid})
    assert relationship is not None
    assert client.account_id not in (relationship.get("settings") or {})
    invites = db["invites"].find(
        {"$or": [{"created_by": client.account_id}, {"used_by": client.account_id}]}
    )
    assert [i async for i in invites] == []
    # What does stay is named.
    assert any("identity key" in line for line in receipt["keeps"])
    gone = await api.call("GET", f"/v1/devices/{client.device_id}", token=coach.access_token)
    assert gone.status == 404  # no key of an erased account is handed out any more
