"""Safety by design in the SDK: pausing (coaches), per-conversation privacy settings, the
messaging agreement, and the panic exit that leaves nothing of Haven on this device."""

from __future__ import annotations

from datetime import date
from typing import Any

from haven_client import copy
from haven_client.api import HavenApi
from haven_client.conversations import Conversations
from haven_client.errors import HavenError, NotLoggedIn
from haven_client.keystore import Keystore
from haven_client.models import Agreement, ConversationSettings

# Keep a setting as it is (distinct from None, which means "no limit" for retention).
_KEEP: Any = object()


def pause_template(name: str) -> str:
    """One of the neutral reasons in ``haven_client.copy.PAUSE_TEMPLATES``."""
    try:
        return copy.PAUSE_TEMPLATES[name]
    except KeyError:
        known = ", ".join(sorted(copy.PAUSE_TEMPLATES))
        raise HavenError(f"no pause template {name!r}; choose one of {known}") from None


class Safety:
    def __init__(self, api: HavenApi, keystore: Keystore, conversations: Conversations) -> None:
        self._api = api
        self._store = keystore
        self._conversations = conversations

    async def pause(
        self, conversation_id: str, reason: str | None = None, resume_on: date | None = None
    ) -> None:
        """Coaches: sending waits for both sides; the client sees ``reason`` as written (up
        to 280 characters; ``pause_template`` offers neutral ones)."""
        day = None if resume_on is None else resume_on.isoformat()
        await self._api.pause_conversation(conversation_id, reason, day)
        await self._conversations.refresh()

    async def resume(self, conversation_id: str) -> None:
        await self._api.resume_conversation(conversation_id)
        await self._conversations.refresh()

    async def update_settings(
        self,
        conversation_id: str,
        *,
        share_read_receipts: bool = _KEEP,
        notification_detail: str = _KEEP,
        retention_days: int | None = _KEEP,
    ) -> ConversationSettings:
        """Change only what is given; ``retention_days=None`` means no wish for a limit (the
        shorter choice of the two participants wins, within the operator's bounds)."""
        given = {
            "share_read_receipts": share_read_receipts,
            "notification_detail": notification_detail,
            "retention_days": retention_days,
        }
        changes = {name: value for name, value in given.items() if value is not _KEEP}
        return await self._api.set_conversation_settings(conversation_id, changes)

    async def agreement(self) -> Agreement:
        """The current messaging agreement (``NotFound``: none is published, none needed)."""
        return await self._api.agreement()

    async def accept_agreement(self, version: str) -> Agreement:
        return await self._api.accept_agreement(version)

    async def withdraw_agreement(self) -> None:
        await self._api.withdraw_agreement()

    async def panic(self) -> str:
        """Revoke this device at once (pushes and pending notifications go with it), then
        overwrite and delete the keystore and every cache. Returns the line to show."""
        if self._store.state.device_id is None:
            raise NotLoggedIn("this device is not signed in")
        try:
            await self._api.panic(self._store.state.device_id)
        finally:
            self._store.wipe()  # even if the server could not be reached: leave no trace here
        return copy.PANIC_DONE
