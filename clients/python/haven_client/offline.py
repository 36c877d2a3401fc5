"""The live opener, run offline over an export: the same receiver checks, no fresh listing.

``open_offline`` hands the export's messages to ``Opener`` (the very code that opens live
deliveries) with a directory that answers from the export and a key watch that only reads
this keystore's pins. So, as live: a sender device counts only if a listing of its account
showed it to this keystore (pinned) and its identity key matches the pin; what it sent after
its revocation is refused; a device never seen listed is refused, unless it was revoked and
the conversation's safety number was never verified (then shown, marked ``unlisted``); and
``urgent`` is the signed flag. What the export adds (devices, revocation times) can only
narrow that, never vouch: nothing here pins, saves or announces anything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar, cast

from pydantic import ValidationError

from haven_client.api import HavenApi
from haven_client.directory import Directory, PeerDevice
from haven_client.errors import UntrustedDevice
from haven_client.events import Event
from haven_client.keystore import Keystore, StoredConversation, StoredParticipant
from haven_client.keywatch import KeyWatch
from haven_client.models import DeviceDetail, MessageItem
from haven_client.opener import Opened, Opener
from haven_client.trust import Trust

T = TypeVar("T")


class _ReadOnlyWatch(KeyWatch):
    """This keystore's pins, read and never written; kx keys seen in the export are kept in
    memory for this run only (each one verified under its device's pinned identity)."""

    def __init__(self, store: Keystore) -> None:
        super().__init__(store, _ignore)
        self._kx: dict[str, list[bytes]] = {}

    def observe_listed(self, account_id: str, device_id: str, identity_key: bytes) -> bool:
        return self.check(account_id, device_id, identity_key)

    def check(self, account_id: str, device_id: str, identity_key: bytes) -> bool:
        pinned = self.pinned(account_id, device_id)
        return pinned is None or pinned == identity_key

    def release_disputed(self, account_id: str) -> None:
        return None

    def observe_kx(self, device_id: str, kx_key: bytes) -> None:
        known = self._kx.setdefault(device_id, [])
        if kx_key not in known:
            known.append(kx_key)

    def known_kx(self, device_id: str) -> list[bytes]:
        return [*reversed(self._kx.get(device_id, [])), *super().known_kx(device_id)]


class _ExportDirectory(Directory):
    """Devices as the export lists them, checked exactly as a live lookup is (kx signature
    for the account's handle, identity key against the pin)."""

    def __init__(self, watch: _ReadOnlyWatch, devices: Mapping[str, DeviceDetail]) -> None:
        super().__init__(cast(HavenApi, None), watch)
        self._listed = devices

    async def active_devices(
        self, account_id: str, handle: str, *, fresh: bool = False
    ) -> list[PeerDevice]:
        return [
            await self.device(d.device_id, {account_id: handle})
            for d in self._listed.values()
            if d.account_id == account_id and d.revoked_at is None
        ]

    async def device(
        self, device_id: str, handles: dict[str, str], *, fresh: bool = False
    ) -> PeerDevice:
        detail = self._listed.get(device_id)
        if detail is None:
            raise UntrustedDevice(device_id, "the export does not list this device")
        handle = handles.get(detail.account_id)
        if handle is None:
            raise UntrustedDevice(device_id, "does not belong to a participant")
        peer = self._trust(detail.account_id, handle, detail, listed=False)
        return dataclasses.replace(peer, revoked_at=detail.revoked_at)


class _OfflineTrust(Trust):
    """Trust as this keystore recorded it; offline there is no fresh listing to consult."""

    async def recheck(self, conversation: StoredConversation) -> None:
        raise UntrustedDevice("*", "no listing of its account on this device ever showed it")


def open_offline(
    store: Keystore, document: Mapping[str, Any]
) -> dict[str, tuple[Opened | None, str | None]]:
    """message id -> (what the live opener makes of it, or None and why it could not run)."""
    watch = _ReadOnlyWatch(store)
    results: dict[str, tuple[Opened | None, str | None]] = {}
    by_conversation: dict[str, list[Any]] = {}
    for raw in document.get("messages", []):
        by_conversation.setdefault(str(raw.get("conversation_id")), []).append(raw)
    for conversation in document.get("conversations", []):
        devices = _devices(conversation.get("devices", []))
        directory = _ExportDirectory(watch, devices)
        opener = Opener(store, directory, watch, _OfflineTrust(store, directory, _ignore))
        stored = _conversation(store, conversation)
        for raw in by_conversation.get(stored.conversation_id, []):
            try:
                item = MessageItem.model_validate(raw)
            except ValidationError:
                results[str(raw.get("message_id"))] = (None, "a malformed message record")
                continue
            results[item.message_id] = (_complete(opener.open_item(item, stored)), None)
    return results


def _devices(listed: list[Any]) -> dict[str, DeviceDetail]:
    found: dict[str, DeviceDetail] = {}
    for raw in listed:
        try:
            detail = DeviceDetail.model_validate(raw)
        except ValidationError:
            continue  # a malformed record vouches for nothing; its messages stay unreadable
        found[detail.device_id] = detail
    return found


def _conversation(store: Keystore, exported: Mapping[str, Any]) -> StoredConversation:
    """This device's own record of the conversation when it has one, never the server's."""
    cid = str(exported.get("conversation_id"))
    own = store.state.conversations.get(cid)
    if own is not None:
        return own
    participants = [
        StoredParticipant(
            account_id=str(p.get("account_id")),
            handle=str(p.get("handle")),
            role=str(p.get("role") or ""),
        )
        for p in exported.get("participants", [])
        if isinstance(p, dict)
    ]
    return StoredConversation(conversation_id=cid, participants=participants)


def _complete(step: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits (nothing offline does) to its end, in one step, so
    the export opens the same way inside or outside an event loop."""
    try:
        step.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    step.close()
    raise RuntimeError("the offline opener waited for something")


def _ignore(_: Event) -> None:
    """Offline nothing is announced: key changes surface when the device next goes online."""
