"""Remembers every identity key and kx key seen per device id, and cries out when one changes.

A device id is the server's name for one identity key: the gateway never re-keys a
device, it registers a new one. So a known id with a different identity key means
the server (or someone in its place) substituted keys. That is surfaced as a
``KeyChanged`` that blocks sending until the user acknowledges it.
"""

from __future__ import annotations

from collections.abc import Callable

from haven_client.events import Event, KeyChanged
from haven_client.keystore import Keystore
from shared.crypto import b64d, b64e

_KX_HISTORY = 16


class KeyWatch:
    def __init__(self, store: Keystore, emit: Callable[[Event], None]) -> None:
        self._store = store
        self._emit = emit

    def observe(self, account_id: str, device_id: str, identity_key: bytes) -> bool:
        """Record a device's identity key; False (and a loud event) if it differs from before."""
        seen = self._store.state.seen_devices.setdefault(account_id, {})
        encoded = b64e(identity_key)
        previous = seen.get(device_id)
        seen[device_id] = encoded
        if previous is None or previous == encoded:
            if previous is None:
                self._store.save()
            return True
        self._store.state.pending_key_changes[account_id] = "identity_key_changed"
        self._store.save()
        self._emit(
            KeyChanged(
                account_id=account_id,
                reason="identity_key_changed",
                device_id=device_id,
                previous_safety_number=self._store.state.last_safety.get(account_id),
                safety_number=None,
                requires_acknowledgement=True,
            )
        )
        return False

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

    def knows_device(self, account_id: str, device_id: str) -> bool:
        return device_id in self._store.state.seen_devices.get(account_id, {})
