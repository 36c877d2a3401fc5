"""The receiver's side of haven-v1: every check of API.md before a byte of content is shown.

``open_item`` turns one history item (or WebSocket ``message``) into a
``ReceivedMessage``, a ``MessageDeleted`` tombstone, or an ``InvalidMessage`` that
names the failed check. The conversation id in the aad is always the one from this
device's own records, never the server's field.

Sender trust. ``GET /v1/devices/{id}`` alone never vouches for a device: the server
could invent one there and leave it out of the listing the safety number covers. A
sender device counts only once an active-device listing of its account showed it
(``KeyWatch`` pins it, persisted; a device seen listed and revoked later stays good
for what it sent before the revocation). A device no listing showed so far gets one
fresh look at the listings, then:

- not revoked, yet still unlisted: the server contradicts itself (a forgery or a
  broken server), so the message is an ``InvalidMessage`` for every contact;
- revoked before this device ever saw it listed (e.g. history older than this
  device): ``InvalidMessage`` if the user verified the conversation's safety number,
  which never covered that device; otherwise shown with ``trust="unlisted"``, no
  worse than what trust on first use already allows, but marked as such.

A device shown with another identity key than its pin is refused until the user
acknowledges the change. Every other message carries ``Trust.message_trust``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from haven_client.directory import Directory, PeerDevice
from haven_client.errors import HavenApiError, RetryLater, UntrustedDevice
from haven_client.events import InvalidMessage, MessageDeleted, MessageTrust, ReceivedMessage
from haven_client.historykeys import HistoryKeys
from haven_client.keystore import Keystore, StoredConversation
from haven_client.keywatch import KeyWatch
from haven_client.models import MessageItem
from haven_client.trust import Trust
from haven_crypto.crypto import ALG, EnvelopeError, KxPrivateKey
from haven_crypto.envelope import Envelope, open_envelope

T = TypeVar("T")
Opened = ReceivedMessage | InvalidMessage | MessageDeleted
_CLOCK_SKEW = timedelta(minutes=5)  # API.md's login tolerance; a later revoked_at is a lie


class _Reject(Exception):
    """One failed receiver check, turned into an ``InvalidMessage`` at the top."""

    def __init__(self, reason: str, field: str | None = None, *, predates: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.predates = predates


class Opener:
    def __init__(
        self,
        store: Keystore,
        directory: Directory,
        watch: KeyWatch,
        trust: Trust,
        *,
        history: HistoryKeys | None = None,
    ) -> None:
        self._store = store
        self._directory = directory
        self._watch = watch
        self._trust = trust
        self.history = history or HistoryKeys(store)

    async def open_item(self, item: MessageItem, conversation: StoredConversation) -> Opened:
        try:
            return await self._open(item, conversation)
        except _Reject as reject:
            return InvalidMessage(
                conversation_id=conversation.conversation_id,
                message_id=item.message_id,
                seq=item.seq,
                sender_account_id=item.sender_account_id,
                sender_device_id=item.sender_device_id,
                reason=reject.reason,
                field=reject.field,
                predates_device=reject.predates,
            )

    async def _open(self, item: MessageItem, conversation: StoredConversation) -> Opened:
        conversation_id = conversation.conversation_id
        if item.conversation_id != conversation_id:
            raise _Reject("filed under another conversation", "conversation_id")
        if conversation.participant(item.sender_account_id) is None:
            raise _Reject("sender is not a participant of this conversation", "sender_account_id")
        if item.deleted:
            return MessageDeleted(
                conversation_id=conversation_id,
                message_id=item.message_id,
                seq=item.seq,
                sender_account_id=item.sender_account_id,
            )
        envelope = _parse(item)
        sender, trust = await self._sender(item, conversation)
        if self._store.state.device_id in envelope.keys:
            payload = await self._decrypt(envelope, conversation_id, sender, conversation)
        else:
            payload = await self._from_history(envelope, item, sender, conversation)
        account = self._store.state.account
        return ReceivedMessage(
            conversation_id=conversation_id,
            message_id=item.message_id,
            seq=item.seq,
            sender_account_id=item.sender_account_id,
            sender_device_id=item.sender_device_id,
            server_ts=item.server_ts,
            urgent=envelope.urgent,
            payload=payload,
            outgoing=account is not None and account.account_id == item.sender_account_id,
            trust=trust,
        )

    async def _sender(
        self, item: MessageItem, conversation: StoredConversation
    ) -> tuple[PeerDevice, MessageTrust]:
        """Step 2: the sending device belongs to a participant, was active at the time, and
        a listing of its account showed it (module docstring)."""
        device = await self._lookup(item, conversation)
        if self._listed(device) or _revoked(device):
            return device, self._vouched(device, conversation)
        # Maybe a device added since the last listing: the listings must show it now.
        await _checked(self._trust.recheck(conversation))
        device = await self._lookup(item, conversation, fresh=True)
        return device, self._vouched(device, conversation)

    async def _lookup(
        self, item: MessageItem, conversation: StoredConversation, *, fresh: bool = False
    ) -> PeerDevice:
        handles = {p.account_id: p.handle for p in conversation.participants}
        device = await _checked(self._directory.device(item.sender_device_id, handles, fresh=fresh))
        if device.account_id != item.sender_account_id:
            raise _Reject("sender device belongs to another account", "sender_device_id")
        if device.revoked_at is not None and item.server_ts >= device.revoked_at:
            raise _Reject("sent after the sender device was revoked", "sender_device_id")
        return device

    def _vouched(self, device: PeerDevice, conversation: StoredConversation) -> MessageTrust:
        if self._listed(device):
            return self._trust.message_trust(conversation)
        if not _revoked(device):
            reason = "the server answers for a device it leaves out of the account's listing"
            raise _Reject(reason, "sender_device_id")
        if self._trust.was_verified(conversation):
            reason = "sent by a device that was never in the verified device listing"
            raise _Reject(reason, "sender_device_id")
        return "unlisted"

    def _listed(self, device: PeerDevice) -> bool:
        """``Directory.device`` already refused a key that contradicts the pin."""
        return self._watch.pinned(device.account_id, device.device_id) is not None

    async def _from_history(
        self,
        envelope: Envelope,
        item: MessageItem,
        sender: PeerDevice,
        conversation: StoredConversation,
    ) -> dict[str, Any]:
        """Not wrapped for this device: the backup key (or a content key restored with it)
        may open it, after the same sender checks (historykeys.py)."""
        sender_kx = list(
            dict.fromkeys([sender.kx_key, *self._directory.known_kx(sender.device_id)])
        )
        try:
            plain = self.history.open(
                envelope,
                conversation_id=conversation.conversation_id,
                sender_identity_public=sender.identity_key,
                sender_kx=sender_kx,
            )
        except EnvelopeError as exc:
            raise _Reject(f"restored from the backup: {exc}", exc.field) from exc
        if plain is None:
            raise await self._not_for_us(item, conversation)
        return _payload(plain)

    async def _not_for_us(self, item: MessageItem, conversation: StoredConversation) -> _Reject:
        """Why this device has no key box: normal for messages older than the device."""
        own_device_id = self._store.state.device_id
        if own_device_id is None:
            return _Reject("this device is not logged in", "keys")
        handles = {p.account_id: p.handle for p in conversation.participants}
        own = await _checked(self._directory.device(own_device_id, handles))
        if own.created_at is not None and item.server_ts < own.created_at:
            reason = "sent before this device was added; only the devices of that time can read it"
            return _Reject(reason, "keys", predates=True)
        return _Reject("this device is not among the recipients", "keys")

    async def _decrypt(
        self,
        envelope: Envelope,
        conversation_id: str,
        sender: PeerDevice,
        conversation: StoredConversation,
    ) -> dict[str, Any]:
        """Steps 3-4, trying older kx keys on both sides: a rotation must not orphan messages."""
        own_device_id = self._store.state.device_id
        assert own_device_id is not None
        try:
            plain = self._try_keys(envelope, conversation_id, own_device_id, sender)
        except _Reject as first:
            if first.field != "keys":
                raise
            handles = {p.account_id: p.handle for p in conversation.participants}
            fresh = await _checked(self._directory.device(sender.device_id, handles, fresh=True))
            if fresh.kx_key == sender.kx_key:
                raise
            plain = self._try_keys(envelope, conversation_id, own_device_id, fresh)
        return _payload(plain)

    def _try_keys(
        self, envelope: Envelope, conversation_id: str, own_device_id: str, sender: PeerDevice
    ) -> bytes:
        sender_kx = list(
            dict.fromkeys([sender.kx_key, *self._directory.known_kx(sender.device_id)])
        )
        failure = _Reject("no kx key of this device opens its key box", "keys")
        for own_kx in self._store.all_kx():
            for peer_kx in sender_kx:
                try:
                    return _open_once(
                        envelope, conversation_id, own_device_id, own_kx, sender, peer_kx
                    )
                except _Reject as reject:
                    if reject.field != "keys":
                        raise
                    failure = reject
        raise failure


def _revoked(device: PeerDevice) -> bool:
    """Revoked by now; a ``revoked_at`` beyond any clock skew claims a device still active."""
    return device.revoked_at is not None and device.revoked_at <= datetime.now(UTC) + _CLOCK_SKEW


async def _checked(lookup: Awaitable[T]) -> T:
    """A key lookup that fails for good rejects the message; a transient failure propagates,
    so the caller retries later instead of condemning a message that may be fine."""
    try:
        return await lookup
    except UntrustedDevice as exc:
        raise _Reject(f"sender keys are not trusted: {exc}", "sender_device_id") from exc
    except RetryLater:
        raise
    except HavenApiError as exc:
        raise _Reject(f"sender device lookup failed: {exc.code}", "sender_device_id") from exc


def _open_once(
    envelope: Envelope,
    conversation_id: str,
    own_device_id: str,
    own_kx: KxPrivateKey,
    sender: PeerDevice,
    sender_kx: bytes,
) -> bytes:
    try:
        return open_envelope(
            envelope,
            conversation_id=conversation_id,
            own_device_id=own_device_id,
            own_kx=own_kx,
            sender_identity_public=sender.identity_key,
            sender_kx_public=sender_kx,
        )
    except EnvelopeError as exc:
        raise _Reject(str(exc), exc.field) from exc


def _parse(item: MessageItem) -> Envelope:
    """Step 1 and the consistency of the server's fields with the signed ones."""
    if item.envelope is None:
        raise _Reject("message has no envelope", "envelope")
    if item.envelope.get("alg") != ALG:
        raise _Reject(f"unsupported alg {item.envelope.get('alg')!r}", "alg")
    try:
        envelope = Envelope.from_wire(item.envelope)
    except EnvelopeError as exc:
        raise _Reject(f"malformed envelope: {exc}", exc.field) from exc
    if envelope.message_id != item.message_id:
        raise _Reject("message_id differs from the signed one", "message_id")
    if envelope.sender_device_id != item.sender_device_id:
        raise _Reject("sender_device_id differs from the signed one", "sender_device_id")
    if envelope.urgent != item.urgent:
        raise _Reject("urgent differs from the signed flag", "urgent")
    return envelope


def _payload(plain: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(plain.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Reject("payload is not UTF-8 JSON", "payload") from exc
    if not isinstance(payload, dict):
        raise _Reject("payload is not a JSON object", "payload")
    return payload
