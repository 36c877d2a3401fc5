"""Logging in a device and looking after its keys: register or resume, log out, rotate kx
(on a schedule too: every login and resume checks it, ``rotation.py``).

Keys are generated and saved to the keystore *before* the first login request, so
a crash after the gateway registered the device never leaves a device whose
private keys are lost. A login with the stored identity key resumes the same
device (same ``device_id``) instead of adding one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from haven_client.api import HavenApi
from haven_client.directory import Directory
from haven_client.errors import ClockSkew, HavenApiError, HavenError, NotLoggedIn
from haven_client.keys import DeviceKeys
from haven_client.keystore import Keystore, StoredAccount, StoredParticipant
from haven_client.rotation import DEFAULT_PERIOD, Clock, iso, keep_fresh
from haven_client.transport import Transport
from haven_crypto.crypto import b64e

log = logging.getLogger("haven_client.session")


# Never the machine's hostname: it often carries a real name ("sams-macbook").
DEFAULT_DEVICE_NAME = "Haven device"


class SessionManager:
    def __init__(
        self, api: HavenApi, transport: Transport, store: Keystore, directory: Directory
    ) -> None:
        self._api = api
        self._transport = transport
        self._store = store
        self._directory = directory
        self.kx_rotation_period: timedelta = DEFAULT_PERIOD
        self.clock: Clock = lambda: datetime.now(UTC)

    async def login(
        self,
        handle: str,
        password: str,
        device_name: str | None = None,
        replace_device_id: str | None = None,
    ) -> StoredParticipant:
        state = self._store.state
        handle = handle.lower()
        if state.account is not None and state.account.handle != handle:
            raise HavenError("this keystore belongs to another account; use a new keystore")
        keys = self._store.device_keys()
        if keys is None:
            keys = DeviceKeys.generate()
            self._store.set_device_keys(keys, iso(self.clock()))
        state.device_name = device_name or state.device_name or DEFAULT_DEVICE_NAME
        state.server_url = self._transport.base_url
        self._store.save()
        body: dict[str, Any] = {"handle": handle, "password": password}
        if replace_device_id is not None:
            body["replace_device_id"] = replace_device_id
        try:
            session = await self._api.login(
                {**body, "device": keys.device_block(handle, state.device_name)}
            )
        except ClockSkew as exc:
            if exc.server_time is None:
                raise
            # Our clock is off; the server's time keeps the proof fresh, and a replay
            # of it is worthless without the password anyway.
            block = keys.device_block(handle, state.device_name, ts=exc.server_time)
            session = await self._api.login({**body, "device": block})
        if state.device_id is not None and state.device_id != session.device_id:
            log.warning("login_registered_new_device previous=%s", state.device_id)
        state.device_id = session.device_id
        state.account = StoredAccount.model_validate(session.account.model_dump())
        self._transport.install(session)
        await self.keep_keys_fresh()
        return StoredParticipant(account_id=state.account.account_id, handle=state.account.handle)

    async def resume(self) -> None:
        """Continue the stored session with its refresh token; rotate kx if it is due."""
        await self._transport.refresh()
        await self.keep_keys_fresh()

    async def keep_keys_fresh(self) -> bool:
        """The rotation schedule (weekly by default) and dropping old keys no kept message
        needs; True if it rotated. A failure is logged and retried at the next check."""
        try:
            return await keep_fresh(
                self._store, self._api, self.rotate_kx, self.clock(), self.kx_rotation_period
            )
        except (HavenError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("kx_rotation_deferred error=%r", exc)
            return False

    async def logout(self) -> None:
        """End this device's session on the server; the device keys stay for a later login."""
        try:
            await self._api.logout()
        finally:
            self._transport.forget()

    async def rotate_kx(self) -> None:
        """New kx key, same identity. The old private key is kept so older messages still open."""
        state = self._store.state
        keys = self._store.device_keys()
        if keys is None or state.device_id is None or state.account is None:
            raise NotLoggedIn("log in first")
        rotated = keys.with_new_kx()
        signature = rotated.kx_signature(state.account.handle)
        before = list(state.old_kx), list(state.old_kx_retired_at), state.kx_created_at
        self._store.set_device_keys(rotated, iso(self.clock()))
        self._store.save()
        try:
            await self._api.rotate_kx(state.device_id, b64e(rotated.kx_public), b64e(signature))
        except HavenApiError:
            # Definitely refused: go back. (On a network error we cannot know; both keys
            # stay held, and the sender uses whichever the server lists.)
            state.kx_private = b64e(keys.kx_private)
            state.old_kx, state.old_kx_retired_at, state.kx_created_at = before
            self._store.save()
            raise
        finally:
            self._directory.invalidate(state.account.account_id)
