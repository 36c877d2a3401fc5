"""The no-plaintext scan: everything the server keeps or carries — every document of a
stack's databases, its services' logs and the commands still queued in its broker — must not
contain a message's text, in the clear, as hex or as base64."""

from __future__ import annotations

import json

from pymongo import AsyncMongoClient

from haven_crypto import crypto
from tests.support.rabbit import queued_bodies
from tools.stack import Stack

SERVICES = ("gateway", "messaging", "notification")


async def server_texts(
    stack: Stack, mongo_client: AsyncMongoClient, isolation: tuple[str, str]
) -> tuple[list[str], list[str], list[str]]:
    """(database documents, service logs, queued broker messages) of a stopped stack."""
    namespace, prefix = isolation
    dumps = []
    for name in await mongo_client.list_database_names():
        if name.startswith(prefix):
            db = mongo_client[name]
            for collection in await db.list_collection_names():
                dumps += [json.dumps(d, default=str) async for d in db[collection].find()]
    logs = [stack.log_path(s).read_text(errors="replace") for s in SERVICES]
    return dumps, logs, await queued_bodies(namespace)


def assert_no_plaintext(secrets: list[str], texts: list[str]) -> None:
    for secret in secrets:
        encodings = (secret, secret.encode().hex(), crypto.b64e(secret.encode())[:20])
        for text in texts:
            for encoded in encodings:
                assert encoded not in text, f"{secret!r} is readable on the server"
