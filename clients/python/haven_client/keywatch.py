"""Pins each device's identity key as its account's listing showed it, and cries out on a change.

Only active-device listings (``GET /v1/accounts/{id}/devices``) pin: they are what
the safety number covers. A single-device lookup (``GET /v1/devices/{id}``) is
checked against the pin but never creates one, so a device the server only
answers for one by one is never vouched for by a listing it was left out of.

A device id is the server's name for one identity key: the gateway never re-keys a
device, it registers a new one. So a known id with a different identity key means
the server (or someone in its place) substituted keys. That is surfaced as a
``KeyChanged`` that blocks sending, and the pinned key stays until the user
acknowledges: meanwhile nothing signed by the substitute is accepted.
"""

from __future__ import annotations

from collections.abc import Callable

from haven_client.events import Event, KeyChanged
from haven_client.keystore import Keystore
from haven_crypto.crypto import b64d, b64e

_KX_HISTORY = 16


class KeyWatch:
    def __init__(self, store: Keystore, emit: Callable[[Event], None]) -> None:
        self._store = store
        self._emit = emit

    def observe_listed(self, account_id: str, device_id: str, identity_key: bytes) -> bool:
        """A device in ``account_id``'s active listing: pin its key, or check it against the pin."""
        pins = self._store.state.listed_devices.setdefault(account_id, {})
        if device_id not in pins:
            pins[device_id] = b64e(identity_key)
            self._store.save()
            return True
        return self.check(account_id, device_id, identity_key)

    def check(self, account_id: str, device_id: str, identity_key: bytes) -> bool:
        """False (and, the first time, a loud event) if the device is pinned to another key."""
        pinned = self.pinned(account_id, device_id)
        if pinned is None or pinned == identity_key:
            return True
        state = self._store.state
        disputed = state.disputed_devices.setdefault(account_id, [])
        if device_id in disputed:
            return False
        disputed.append(device_id)
        state.pending_key_changes[account_id] = "identity_key_changed"
        self._store.save()
        self._emit(
            KeyChanged(
                account_id=account_id,
                reason="identity_key_changed",
                device_id=device_id,
                previous_safety_number=state.last_safety.get(account_id),
                safety_number=None,
                requires_acknowledgement=True,
            )
        )
        return False

    def pinned(self, account_id: str, device_id: str) -> bytes | None:
        """The identity key a listing of ``account_id`` showed for this device; None if never."""
        pinned = self._store.state.listed_devices.get(account_id, {}).get(device_id)
        return None if pinned is None else b64d(pinned)

    def release_disputed(self, account_id: str) -> None:
        """The user acknowledged: forget disputed pins, so the next listing pins what it shows."""
        state = self._store.state
        pins = state.listed_devices.get(account_id, {})
        disputed = state.disputed_devices.pop(account_id, [])
        for device_id in disputed:
            pins.pop(device_id, None)
        if disputed:
            self._store.save()

    def observe_kx(self, device_id: str, kx_key: bytes) -> None:
        """Keep verified kx keys of a device: messages sealed before a rotation need the old one."""
        history = self._store.state.seen_kx.setdefault(device_id, [])
        encoded = b64e(kx_key)
        if encoded not in history:
            history.append(encoded)
            del history[:-_KX_HISTORY]
            self._store.save()

    def known_kx(self, device_id: str) -> list[bytes]:
        """Previously verified kx keys of a device, newest first."""
        return [b64d(text) for text in reversed(self._store.state.seen_kx.get(device_id, []))]
