"""Sealing and sending: verified recipients, transparent re-encryption on ``device_mismatch``.

One ``message_id`` per logical message across every retry, so the gateway's
idempotency (same id, same device, same signature → stored once) holds for
re-sends of the same envelope, and a re-encryption after a device change is still
the same message to the app.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from haven_client.api import HavenApi
from haven_client.conversations import Conversations
from haven_client.directory import Directory
from haven_client.errors import DeviceMismatch, HavenError, NotLoggedIn, RetryLater, UntrustedDevice
from haven_client.keystore import Keystore, StoredConversation
from haven_client.models import CrisisResource, SendAccepted
from haven_client.trust import Trust
from haven_crypto.crypto import KxPrivateKey
from haven_crypto.envelope import Envelope, seal

MISMATCH_RETRIES = 3
TRANSIENT_RETRIES = 2
_MAX_WAIT = 5.0

WsSend = Callable[[str, dict[str, Any]], Awaitable[SendAccepted]]


@dataclasses.dataclass(frozen=True)
class SendReceipt:
    message_id: str
    crisis_resources: list[CrisisResource]


def text_payload(body: str) -> dict[str, Any]:
    """The SDK's payload shape (API.md): ``sent_at`` is the sender's clock, unix seconds."""
    return {"type": "text", "body": body, "sent_at": int(time.time())}


class Sender:
    def __init__(
        self,
        api: HavenApi,
        store: Keystore,
        directory: Directory,
        trust: Trust,
        conversations: Conversations,
    ) -> None:
        self._api = api
        self._store = store
        self._directory = directory
        self._trust = trust
        self._conversations = conversations

    async def send(
        self,
        conversation_id: str,
        payload: dict[str, Any],
        *,
        urgent: bool = False,
        ws_send: WsSend | None = None,
        message_id: str | None = None,
    ) -> SendReceipt:
        conversation = await self._conversations.get(conversation_id)
        await self._trust.check_sendable(conversation)
        message_id = message_id or str(uuid.uuid4())
        plain = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        for attempt in range(MISMATCH_RETRIES + 1):
            envelope = await self._seal(conversation, message_id, plain, urgent)
            try:
                accepted = await self._post(conversation_id, envelope, ws_send)
            except DeviceMismatch:
                if attempt == MISMATCH_RETRIES:
                    raise
                for participant in conversation.participants:
                    self._directory.invalidate(participant.account_id)
                await self._trust.check_sendable(conversation)
                continue
            if accepted.crisis_resources:
                self._store.state.crisis_resources = [
                    r.model_dump() for r in accepted.crisis_resources
                ]
                self._store.save()
            return SendReceipt(accepted.message_id, list(accepted.crisis_resources))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _seal(
        self, conversation: StoredConversation, message_id: str, plain: bytes, urgent: bool
    ) -> Envelope:
        device_id = self._store.state.device_id
        keys = self._store.device_keys()
        if device_id is None or keys is None:
            raise NotLoggedIn("log in first")
        recipients: dict[str, bytes] = {}
        for participant in conversation.participants:
            for device in await self._directory.active_devices(
                participant.account_id, participant.handle
            ):
                recipients[device.device_id] = device.kx_key
        return seal(
            plain,
            conversation_id=conversation.conversation_id,
            message_id=message_id,
            sender_device_id=device_id,
            identity=keys.identity,
            kx=self._own_kx(device_id, recipients),
            recipients=recipients,
            urgent=urgent,
        )

    def _own_kx(self, device_id: str, recipients: dict[str, bytes]) -> KxPrivateKey:
        """The private half of whatever kx key the server lists for us (even mid-rotation)."""
        listed = recipients.get(device_id)
        if listed is None:
            raise HavenError("this device is not among its account's active devices")
        for candidate in self._store.all_kx():
            if bytes(candidate.public_key) == listed:
                return candidate
        raise UntrustedDevice(device_id, "the server lists a kx key this device does not hold")

    async def _post(
        self, conversation_id: str, envelope: Envelope, ws_send: WsSend | None
    ) -> SendAccepted:
        """Re-send the very same envelope on transient failures: the gateway stores it once."""
        wire = envelope.to_wire()
        for attempt in range(TRANSIENT_RETRIES + 1):
            try:
                if ws_send is not None:
                    return await ws_send(conversation_id, wire)
                return await self._api.post_message(conversation_id, wire)
            except RetryLater as exc:
                if attempt == TRANSIENT_RETRIES:
                    raise
                await asyncio.sleep(min(exc.retry_after or 0.5 * (attempt + 1), _MAX_WAIT))
            except (aiohttp.ClientConnectionError, TimeoutError):
                if attempt == TRANSIENT_RETRIES:
                    raise
                if ws_send is None:
                    await asyncio.sleep(0.5 * (attempt + 1))
                ws_send = None  # the socket went away: the same envelope over HTTP
        raise AssertionError("unreachable")  # pragma: no cover
