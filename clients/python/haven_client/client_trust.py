"""``HavenClient``'s trust calls: safety numbers, verification, key changes, counterparts."""

from __future__ import annotations

from haven_client.conversations import Conversations
from haven_client.errors import HavenError, UnknownConversation
from haven_client.keystore import Keystore, StoredParticipant
from haven_client.trust import Trust


class TrustCalls:
    """Mixed into ``HavenClient``, which sets these parts."""

    store: Keystore
    trust: Trust
    _conversations: Conversations

    async def safety_number(self, conversation_or_account_id: str) -> str:
        """60 digits to compare with the other person, for a conversation or a counterpart."""
        return await self.trust.safety_number(
            self._counterpart(conversation_or_account_id), fresh=True
        )

    def mark_verified(self, conversation_or_account_id: str, number: str) -> None:
        """Record that the user compared ``number`` with the other person (spaces allowed)."""
        self.trust.mark_verified(self._counterpart(conversation_or_account_id).account_id, number)

    def is_verified(self, conversation_or_account_id: str) -> bool:
        return self.trust.is_verified(self._counterpart(conversation_or_account_id).account_id)

    def counterpart(self, conversation_or_account_id: str) -> StoredParticipant:
        """The one other person of a conversation (or the participant with that account id)."""
        return self._counterpart(conversation_or_account_id)

    def acknowledge_key_change(self, account_id: str) -> None:
        self.trust.acknowledge(account_id)

    def _participant(self, account_id: str) -> StoredParticipant:
        me = self.store.state.account
        if me is not None and me.account_id == account_id:
            return StoredParticipant(account_id=me.account_id, handle=me.handle)
        for conversation in self._conversations.known():
            found = conversation.participant(account_id)
            if found is not None:
                return found
        raise UnknownConversation(f"no conversation with account {account_id}")

    def _counterpart(self, conversation_or_account_id: str) -> StoredParticipant:
        conversation = self.store.state.conversations.get(conversation_or_account_id)
        if conversation is None:
            return self._participant(conversation_or_account_id)
        counterparts = self.trust.counterparts(conversation)
        if len(counterparts) != 1:
            raise HavenError("a safety number needs exactly one counterpart")
        return counterparts[0]
