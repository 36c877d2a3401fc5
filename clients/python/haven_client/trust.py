"""Safety numbers, the user's verification of them, and the gate that holds sends after a change.

The safety number covers both accounts' whole active device sets (API.md), so it
changes when either side adds, loses or replaces a device. Every change is surfaced
as ``KeyChanged``; once the user has marked a number verified, a change also holds
back sending to that account until ``acknowledge`` — a verified contact is never
silently re-keyed. The same state decides the ``trust`` a received message carries.
"""

from __future__ import annotations

from collections.abc import Callable

from haven_client.directory import Directory
from haven_client.errors import HavenError, KeyChangeUnacknowledged, NotLoggedIn
from haven_client.events import Event, KeyChanged, MessageTrust
from haven_client.keystore import Keystore, StoredConversation, StoredParticipant
from haven_crypto.crypto import safety_number


class Trust:
    def __init__(
        self, store: Keystore, directory: Directory, emit: Callable[[Event], None]
    ) -> None:
        self._store = store
        self._directory = directory
        self._emit = emit

    def counterparts(self, conversation: StoredConversation) -> list[StoredParticipant]:
        own = self.own_account_id()
        return [p for p in conversation.participants if p.account_id != own]

    async def safety_number(self, account: StoredParticipant, *, fresh: bool = False) -> str:
        """The 60 digits for this device's account and ``account``; notes any change."""
        number = await self._number(account, fresh=fresh)
        if number is None:
            raise HavenError("a safety number needs an active device on both sides")
        return number

    async def recheck(self, conversation: StoredConversation) -> None:
        """Fresh listings of everyone in ``conversation``: pins new devices, surfaces changes."""
        for participant in conversation.participants:
            await self._directory.active_devices(
                participant.account_id, participant.handle, fresh=True
            )
        for account in self.counterparts(conversation):
            await self._number(account)

    def message_trust(self, conversation: StoredConversation) -> MessageTrust:
        """What a message from a listed device may claim: the safety number covers the
        device sets of both sides, so it speaks for the conversation, own devices included."""
        accounts = [p.account_id for p in self.counterparts(conversation)]
        if any(a in self._store.state.pending_key_changes for a in accounts):
            return "key_changed"
        if accounts and all(self.is_verified(a) for a in accounts):
            return "verified"
        return "unverified"

    def was_verified(self, conversation: StoredConversation) -> bool:
        """The user verified a counterpart and has not acknowledged a change since."""
        return any(
            p.account_id in self._store.state.verified for p in self.counterparts(conversation)
        )

    async def _number(self, account: StoredParticipant, *, fresh: bool = False) -> str | None:
        me = self._store.state.account
        if me is None:
            raise NotLoggedIn("log in first")
        own = await self._directory.active_devices(me.account_id, me.handle, fresh=fresh)
        theirs = await self._directory.active_devices(
            account.account_id, account.handle, fresh=fresh
        )
        if not own or not theirs:
            return None
        number = safety_number(
            me.account_id,
            [d.identity_key for d in own],
            account.account_id,
            [d.identity_key for d in theirs],
        )
        self._note(account.account_id, number)
        return number

    async def check_sendable(self, conversation: StoredConversation) -> list[StoredParticipant]:
        """Refresh the counterparts' safety numbers; raise if any change is unacknowledged.
        Returns the counterparts with no active device (signed out, panicked, revoked): a
        message to them is still stored, for this account's own devices."""
        absent = [
            account for account in self.counterparts(conversation)
            if await self.number_if_any(account) is None
        ]  # fmt: skip
        blocked = [
            p.account_id
            for p in self.counterparts(conversation)
            if p.account_id in self._store.state.pending_key_changes
        ]
        if blocked:
            raise KeyChangeUnacknowledged(blocked)
        return absent

    async def number_if_any(self, account: StoredParticipant, *, fresh: bool = False) -> str | None:
        """The safety number, or None while either side has no active device (no change is
        noted then: a client who signed out has not changed keys)."""
        return await self._number(account, fresh=fresh)

    def mark_verified(self, account_id: str, number: str) -> None:
        """Record that the user compared ``number`` out of band; it must be the current one."""
        current = self._store.state.last_safety.get(account_id)
        if current is None or number.replace(" ", "") != current:
            raise ValueError("that is not the current safety number for this account")
        self._store.state.verified[account_id] = current
        self._store.state.pending_key_changes.pop(account_id, None)
        self._directory.release_disputed(account_id)
        self._store.save()

    def is_verified(self, account_id: str) -> bool:
        verified = self._store.state.verified.get(account_id)
        return verified is not None and verified == self._store.state.last_safety.get(account_id)

    def acknowledge(self, account_id: str) -> None:
        """The user saw the change: sending resumes, the contact counts as unverified if the
        number changed, and keys in dispute are taken from the next listing as they are."""
        state = self._store.state
        state.pending_key_changes.pop(account_id, None)
        if state.verified.get(account_id) != state.last_safety.get(account_id):
            state.verified.pop(account_id, None)
        self._directory.release_disputed(account_id)
        self._store.save()

    def pending(self) -> dict[str, str]:
        return dict(self._store.state.pending_key_changes)

    def _note(self, account_id: str, number: str) -> None:
        state = self._store.state
        previous = state.last_safety.get(account_id)
        if previous == number:
            return
        state.last_safety[account_id] = number
        verified = state.verified.get(account_id)
        blocking = verified is not None and verified != number
        if blocking:
            state.pending_key_changes[account_id] = "safety_number_changed"
        self._store.save()
        if previous is not None:
            self._emit(
                KeyChanged(
                    account_id=account_id,
                    reason="safety_number_changed",
                    device_id=None,
                    previous_safety_number=previous,
                    safety_number=number,
                    requires_acknowledgement=blocking,
                )
            )

    def own_account_id(self) -> str:
        if self._store.state.account is None:
            raise NotLoggedIn("log in first")
        return self._store.state.account.account_id
