"""``HavenClient``: the SDK's one entry point, composing the parts and owning their lifetimes.

Construct it inside a running event loop (it creates an aiohttp session) and use it
as an async context manager::

    store = await Keystore.open_or_create("sam.keystore", passphrase)
    async with HavenClient("https://haven.example", store) as client:
        await client.login("sam", password)
        await client.connect()
        async for event in client.events():
            ...

Its notification and boundary calls are in ``client_boundaries.py``, its trust calls in
``client_trust.py``; the parts it composes each have a module of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import aiohttp

from haven_client.api import HavenApi
from haven_client.backup import Backups
from haven_client.boundaries import Boundaries
from haven_client.client_boundaries import BoundaryCalls
from haven_client.client_trust import TrustCalls
from haven_client.connection import Backoff, Connection
from haven_client.conversations import Conversations
from haven_client.directory import Directory, PeerDevice
from haven_client.errors import HavenError
from haven_client.events import Event
from haven_client.historyapi import HistoryApi
from haven_client.inbox import Inbox
from haven_client.keystore import Keystore, StoredParticipant
from haven_client.keywatch import KeyWatch
from haven_client.link import Linking
from haven_client.models import (
    Account,
    Conversation,
    CrisisResource,
    DeviceDetail,
    Invite,
    Me,
)
from haven_client.opener import Opened, Opener
from haven_client.receiver import Receiver
from haven_client.safety import Safety
from haven_client.sender import Sender, SendReceipt, text_payload
from haven_client.session import SessionManager
from haven_client.transport import Transport, check_server_url
from haven_client.trust import Trust

log = logging.getLogger("haven_client")


class HavenClient(BoundaryCalls, TrustCalls):
    def __init__(
        self,
        base_url: str | None,
        keystore: Keystore,
        *,
        http: aiohttp.ClientSession | None = None,
        backoff: Backoff | None = None,
        retry_delay: float = 2.0,
        allow_insecure_http: bool = False,
        time_zone: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``base_url`` must be https unless it is loopback or ``allow_insecure_http`` is set.

        ``time_zone`` (an IANA name) is where times shown to the user are given, by default
        this machine's local time; ``clock`` is the wall clock that "today" is measured by."""
        url = base_url or keystore.state.server_url
        if not url:
            raise HavenError("no server URL given and none stored in the keystore")
        url = check_server_url(url, allow_insecure_http=allow_insecure_http)
        self.store = keystore
        self._owns_http = http is None
        self._http = http or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self.transport = Transport(url, self._http, keystore)
        self.api = HavenApi(self.transport)
        self._inbox = Inbox(keystore, self._ack)
        emit = self._inbox.emit
        watch = KeyWatch(keystore, emit)
        self.directory = Directory(self.api, watch)
        self.trust = Trust(keystore, self.directory, emit)
        self._conversations = Conversations(self.api, keystore)
        self.boundaries = Boundaries(
            self.api, keystore, self._conversations, time_zone=time_zone, clock=clock
        )
        self._opener = Opener(keystore, self.directory, watch, self.trust)
        # History on a new device (docs/history.md): key backup, restore, linking.
        self.history_keys = self._opener.history
        self.history_api = HistoryApi(self.transport)
        self.backup = Backups(
            api=self.api,
            history_api=self.history_api,
            store=keystore,
            directory=self.directory,
            conversations=self._conversations,
            opener=self._opener,
            keys=self.history_keys,
        )
        self.link = Linking(
            wire=self.history_api,
            store=keystore,
            directory=self.directory,
            keys=self.history_keys,
            vouch=self.backup.vouch,
        )
        self._sender = Sender(
            self.api, keystore, self.directory, self.trust, self._conversations, emit
        )
        self._receiver = Receiver(
            self.api,
            self._conversations,
            self._opener,
            self._inbox,
            self.directory,
            self.trust,
            coach_away=self.boundaries.coach_away,
            retry_delay=retry_delay,
        )
        self._connection = Connection(
            self.transport, self._receiver.push_frame, emit, backoff or Backoff()
        )
        self.session = SessionManager(self.api, self.transport, keystore, self.directory)
        # Pausing, per-conversation privacy settings, the agreement, the panic exit.
        self.safety = Safety(self.api, keystore, self._conversations)
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    async def __aenter__(self) -> HavenClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- session ------------------------------------------------------------------------

    async def register(
        self, handle: str, password: str, invite_code: str, display_name: str | None = None
    ) -> Account:
        """Create an account with an invite; touches neither the keystore nor a session."""
        return await self.api.register(handle, password, invite_code, display_name)

    async def login(
        self,
        handle: str,
        password: str,
        *,
        device_name: str | None = None,
        replace_device_id: str | None = None,
    ) -> StoredParticipant:
        """Log in (registering this device's keys, or resuming it), then cache what is
        needed offline: conversations and the crisis resources."""
        account = await self.session.login(handle, password, device_name, replace_device_id)
        await self._conversations.refresh()
        await self.crisis_resources(refresh=True)
        return account

    async def resume(self) -> None:
        """Continue the stored session with its refresh token (no password); rotate kx if due."""
        await self.session.resume()

    async def logout(self) -> None:
        await self.close_connection()
        await self.session.logout()

    async def me(self) -> Me:
        return await self.api.me()

    async def rotate_kx(self) -> None:
        await self.session.rotate_kx()

    # --- directory and relationships -------------------------------------------------------

    async def conversations(self) -> list[Conversation]:
        """The server's list (with ``last_seq``/``read_up_to``); also updates the local record."""
        await self._conversations.refresh()
        return await self.api.conversations()

    async def accept_invite(self, code: str) -> str:
        conversation_id = await self.api.accept_invite(code)
        await self._conversations.refresh()
        return conversation_id

    async def create_invite(self, kind: str) -> Invite:
        return await self.api.create_invite(kind)

    async def account_devices(self, account_id: str) -> list[PeerDevice]:
        """An account's active devices, kx signatures verified against its handle."""
        participant = self._participant(account_id)
        return await self.directory.active_devices(account_id, participant.handle, fresh=True)

    async def device(self, device_id: str) -> DeviceDetail:
        return await self.api.device(device_id)

    async def revoke_device(self, device_id: str) -> None:
        """Revoke one of this account's devices (a lost phone); its sockets close at once."""
        await self.api.revoke_device(device_id)
        if self.store.state.account is not None:
            self.directory.invalidate(self.store.state.account.account_id)

    async def crisis_resources(self, *, refresh: bool = False) -> list[CrisisResource]:
        """Cached in the keystore so they can be shown with no network at all."""
        if refresh:
            try:
                resources = await self.api.crisis_resources()
            except (aiohttp.ClientError, OSError, TimeoutError, HavenError) as exc:
                log.warning("crisis_resources_refresh_failed error=%r", exc)
            else:
                self.store.state.crisis_resources = [r.model_dump() for r in resources]
                self.store.save()
        return [CrisisResource.model_validate(r) for r in self.store.state.crisis_resources]

    async def panic(self) -> str:
        """Panic exit: revoke this device, then wipe the keystore file and every cache; the
        client is closed afterwards. Returns the calm line to show."""
        await self.close_connection()
        try:
            return await self.safety.panic()
        finally:
            await self.close()

    # --- messages -------------------------------------------------------------------------

    async def send_text(
        self, conversation_id: str, body: str, urgent: bool = False, *, via_websocket: bool = False
    ) -> str:
        receipt = await self.send(
            conversation_id, text_payload(body), urgent, via_websocket=via_websocket
        )
        return receipt.message_id

    async def send(
        self,
        conversation_id: str,
        payload: dict[str, Any],
        urgent: bool = False,
        *,
        via_websocket: bool = False,
        attachment_ids: list[str] | None = None,
    ) -> SendReceipt:
        """Seal and send any JSON payload; ``via_websocket`` uses the open socket if ready.
        ``attachment_ids`` names uploads the payload lists (haven_client/attachments.py)."""
        ws = self._connection.send_envelope if via_websocket and self._connection.ready else None
        return await self._sender.send(
            conversation_id, payload, urgent=urgent, ws_send=ws, attachment_ids=attachment_ids
        )

    async def history(
        self,
        conversation_id: str,
        *,
        after_seq: int | None = None,
        before_seq: int | None = None,
        limit: int = 50,
    ) -> tuple[list[Opened], bool]:
        """One verified, decrypted page and ``has_more``; does not touch sync bookkeeping."""
        conversation = await self._conversations.get(conversation_id)
        page = await self.api.history(
            conversation_id, after_seq=after_seq, before_seq=before_seq, limit=limit
        )
        opened = [await self._opener.open_item(item, conversation) for item in page.messages]
        return opened, page.has_more

    async def mark_read(self, conversation_id: str, up_to_seq: int) -> None:
        await self.api.mark_read(conversation_id, up_to_seq)

    async def delete_message(self, conversation_id: str, message_id: str) -> None:
        await self.api.delete_message(conversation_id, message_id)

    async def sync(self) -> None:
        """Fetch everything new in every conversation into ``events()`` (also without a socket)."""
        await self._receiver.sync_all()

    # --- events and lifetime ------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the socket is open and the server has said ``ready``."""
        return self._connection.ready

    async def connect(self) -> None:
        """Open the WebSocket (reconnecting on its own) and start processing deliveries."""
        if self._tasks:
            return
        for coroutine in (
            self._receiver.run(),
            self._connection.run(),
            self._connection.keep_token_fresh(),
        ):
            task = asyncio.get_running_loop().create_task(coroutine)
            task.add_done_callback(_log_crash)
            self._tasks.append(task)

    async def events(self) -> AsyncIterator[Event]:
        """Every event in order; each message is acked when you come back for the next one."""
        while (event := await self._inbox.get()) is not None:
            yield event

    async def close_connection(self) -> None:
        await self._connection.close()
        await self._receiver.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def close(self) -> None:
        """Stop everything, save, and release the keystore (the client owns it). Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self.close_connection()
        await self._inbox.close()
        if self._owns_http:
            await self._http.close()
        self.store.close()

    async def _ack(self, message_id: str) -> None:
        await self._connection.send_frame({"type": "ack", "message_id": message_id})


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background_task_crashed", exc_info=task.exception())
