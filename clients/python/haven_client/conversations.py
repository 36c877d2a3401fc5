"""This device's own record of its conversations: ids and participants, kept in the keystore.

Receivers build the aad from this record, never from a server field (API.md), and
kx signatures are checked against the participants' handles stored here. Handles and
participants never change for a conversation, so once recorded they are kept as
first seen: a later listing may update the status, never who is in the room.
"""

from __future__ import annotations

from haven_client.api import HavenApi
from haven_client.errors import UnknownConversation
from haven_client.keystore import Keystore, StoredConversation, StoredParticipant
from haven_client.models import Conversation


class Conversations:
    def __init__(self, api: HavenApi, store: Keystore) -> None:
        self._api = api
        self._store = store

    async def refresh(self) -> list[StoredConversation]:
        listed = await self._api.conversations()
        known = self._store.state.conversations
        for conversation in listed:
            stored = known.get(conversation.conversation_id)
            if stored is None:
                known[conversation.conversation_id] = _record(conversation)
            else:
                stored.status = conversation.status
        self._store.save()
        return [known[c.conversation_id] for c in listed]

    async def get(self, conversation_id: str) -> StoredConversation:
        """The stored record; an unknown id triggers one refresh before giving up."""
        stored = self._store.state.conversations.get(conversation_id)
        if stored is None:
            await self.refresh()
            stored = self._store.state.conversations.get(conversation_id)
        if stored is None:
            raise UnknownConversation(conversation_id)
        return stored

    def known(self) -> list[StoredConversation]:
        return list(self._store.state.conversations.values())

    def set_status(self, conversation_id: str, status: str) -> None:
        stored = self._store.state.conversations.get(conversation_id)
        if stored is not None and stored.status != status:
            stored.status = status
            self._store.save()


def _record(conversation: Conversation) -> StoredConversation:
    return StoredConversation(
        conversation_id=conversation.conversation_id,
        status=conversation.status,
        participants=[
            StoredParticipant(
                account_id=p.account_id,
                handle=p.handle.lower(),
                display_name=p.display_name,
                role=p.role,
            )
            for p in conversation.participants
        ],
    )
