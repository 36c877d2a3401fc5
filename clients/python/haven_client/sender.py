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
from haven_client.errors import (
    DeviceMismatch,
    HavenError,
    NotLoggedIn,
    RateLimited,
    RetryLater,
    UntrustedDevice,
)
from haven_client.events import Event, SendingShortly
from haven_client.keystore import Keystore, StoredConversation
from haven_client.models import CrisisResource, SendAccepted
from haven_client.pacing import Pacer
from haven_client.trust import Trust
from haven_crypto.crypto import KxPrivateKey
from haven_crypto.envelope import Envelope, seal

MISMATCH_RETRIES = 3
TRANSIENT_RETRIES = 2
OUTBOX_ATTEMPTS = 12  # 429s one message waits out before it is handed back to the app
_MAX_WAIT = 5.0

WsSend = Callable[[str, dict[str, Any]], Awaitable[SendAccepted]]


@dataclasses.dataclass(frozen=True)
class SendReceipt:
    message_id: str
    crisis_resources: list[CrisisResource]
    recipients_absent: list[str] = dataclasses.field(default_factory=list)
    """Counterparts (display name or handle) with no signed-in device right now: the message
    is stored, and reaches only the devices they add later that can open it."""


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
        emit: Callable[[Event], None] = lambda _: None,
    ) -> None:
        self._api = api
        self._store = store
        self._directory = directory
        self._trust = trust
        self._conversations = conversations
        self._emit = emit
        self.pacer = Pacer()

    async def send(
        self,
        conversation_id: str,
        payload: dict[str, Any],
        *,
        urgent: bool = False,
        ws_send: WsSend | None = None,
        message_id: str | None = None,
        attachment_ids: list[str] | None = None,
    ) -> SendReceipt:
        conversation = await self._conversations.get(conversation_id)
        absent = await self._trust.check_sendable(conversation)
        message_id = message_id or str(uuid.uuid4())
        plain = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        for attempt in range(MISMATCH_RETRIES + 1):
            envelope = await self._seal(conversation, message_id, plain, urgent)
            try:
                accepted = await self._paced(
                    conversation_id, envelope, None if attachment_ids else ws_send, attachment_ids
                )
            except DeviceMismatch:
                if attempt == MISMATCH_RETRIES:
                    raise
                for participant in conversation.participants:
                    self._directory.invalidate(participant.account_id)
                absent = await self._trust.check_sendable(conversation)
                continue
            if accepted.crisis_resources:
                self._store.state.crisis_resources = [
                    r.model_dump() for r in accepted.crisis_resources
                ]
                self._store.save()
            names = [p.display_name or p.handle for p in absent]
            return SendReceipt(accepted.message_id, list(accepted.crisis_resources), names)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _paced(
        self,
        conversation_id: str,
        envelope: Envelope,
        ws_send: WsSend | None,
        attachment_ids: list[str] | None = None,
    ) -> SendAccepted:
        """The outbox: a 429 is waited out (``SendingShortly``) and the same envelope sent
        again, in order with the other sends, so a burst arrives late rather than never."""
        async with self.pacer.lock:
            for attempt in range(OUTBOX_ATTEMPTS):
                await self.pacer.wait()
                try:
                    accepted = await self._post(conversation_id, envelope, ws_send, attachment_ids)
                except RateLimited as exc:
                    if attempt == OUTBOX_ATTEMPTS - 1:
                        raise
                    wait = self.pacer.refused(exc.retry_after)
                    self._emit(SendingShortly(
                        conversation_id=conversation_id,
                        message_id=envelope.message_id,
                        retry_after=wait,
                    ))  # fmt: skip
                    continue
                self.pacer.sent()
                return accepted
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
            # The account's backup key is a recipient too, once one of its devices vouches.
            backup = await self._directory.backup_recipient(
                participant.account_id, participant.handle
            )
            if backup is not None:
                recipients[backup.backup_id] = backup.kx_key
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
        self,
        conversation_id: str,
        envelope: Envelope,
        ws_send: WsSend | None,
        attachment_ids: list[str] | None = None,
    ) -> SendAccepted:
        """Re-send the very same envelope on transient failures: the gateway stores it once."""
        wire = envelope.to_wire()
        for attempt in range(TRANSIENT_RETRIES + 1):
            try:
                if ws_send is not None:
                    return await ws_send(conversation_id, wire)
                return await self._api.post_message(conversation_id, wire, attachment_ids)
            except RateLimited:
                raise  # the outbox waits these out (``_paced``)
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
