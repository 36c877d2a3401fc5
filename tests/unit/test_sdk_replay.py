"""haven_client replay protection: a message id once accepted is never shown again, however old.

The receiver is driven directly (a list as the server's history, no crypto), so
thousands of messages take a moment instead of minutes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from haven_client import Keystore, ReadReceipt, ReceivedMessage
from haven_client.conversations import Conversations
from haven_client.inbox import Inbox
from haven_client.keystore import StoredConversation, StoredParticipant
from haven_client.models import HistoryPage, MessageItem
from haven_client.receiver import Receiver
from haven_crypto.crypto import b64d
from tests.sdk_fakes.harness import PASSPHRASE, new_keystore

CONVERSATION = "conv_replay"
COACH = "acc_coach"


class _Server:
    """The part of ``HavenApi`` a sync uses, over a history the test controls."""

    def __init__(self) -> None:
        self.items: list[MessageItem] = []

    def add(self, message_id: str) -> None:
        self.items.append(
            MessageItem(
                message_id=message_id,
                conversation_id=CONVERSATION,
                seq=len(self.items) + 1,  # a replay gets a new, higher seq
                sender_account_id=COACH,
                sender_device_id="dev_coach",
                server_ts=datetime.now(UTC),
                envelope={},
            )
        )

    async def history(
        self, conversation_id: str, *, after_seq: int | None = None, limit: int = 50, **_: Any
    ) -> HistoryPage:
        after = [m for m in self.items if m.seq > (after_seq or 0)]
        return HistoryPage(messages=after[:limit], has_more=len(after) > limit)


class _Opener:
    """Stands in for the crypto: every envelope verifies; records what it was asked to open."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    async def open_item(self, item: MessageItem, conversation: StoredConversation) -> Any:
        self.opened.append(item.message_id)
        return ReceivedMessage(
            conversation_id=conversation.conversation_id,
            message_id=item.message_id,
            seq=item.seq,
            sender_account_id=item.sender_account_id,
            sender_device_id=item.sender_device_id,
            server_ts=item.server_ts,
            urgent=False,
            payload={"type": "text", "body": "hi", "sent_at": 0},
            outgoing=False,
            trust="unverified",
        )


async def _no_ack(message_id: str) -> None:
    return None


def _receiver(store: Keystore, server: _Server, opener: _Opener) -> tuple[Receiver, Inbox]:
    store.state.conversations[CONVERSATION] = StoredConversation(
        conversation_id=CONVERSATION,
        participants=[StoredParticipant(account_id=COACH, handle="coach")],
    )
    inbox = Inbox(store, _no_ack)
    api = cast(Any, server)
    receiver = Receiver(
        api, Conversations(api, store), cast(Any, opener), inbox, cast(Any, None), cast(Any, None)
    )
    return receiver, inbox


async def _drain(inbox: Inbox) -> list[Any]:
    """Everything queued, each committed by asking for the next (a marker event ends it)."""
    marker = ReadReceipt(conversation_id=CONVERSATION, account_id=COACH, up_to_seq=0)
    inbox.emit(marker)
    events = []
    while (event := await inbox.get()) is not marker:
        events.append(event)
    return events


async def test_replay_of_an_old_message_under_a_new_seq_is_ignored_after_thousands(
    tmp_path: Path,
) -> None:
    store = await new_keystore(tmp_path / "coach.keystore")
    server, opener = _Server(), _Opener()
    receiver, inbox = _receiver(store, server, opener)
    ids = [str(uuid.uuid4()) for _ in range(5_001)]
    for message_id in ids:
        server.add(message_id)
    await receiver.sync(CONVERSATION)
    assert len(await _drain(inbox)) == 5_001

    server.add(ids[0])  # the server replays the very first message
    await receiver.sync(CONVERSATION)

    assert await _drain(inbox) == []
    assert len(opener.opened) == 5_001
    assert store.last_seq(CONVERSATION) == 5_002  # consumed, not stuck

    await inbox.close()
    assert len(b64d(store.state.accepted_ids[CONVERSATION])) == 16 * 5_001  # 16 bytes an id
    store.close()  # and the memory survives a restart
    reopened = await Keystore.open(tmp_path / "coach.keystore", PASSPHRASE)
    receiver, inbox = _receiver(reopened, server, opener)
    server.add(ids[1])
    await receiver.sync(CONVERSATION)
    assert await _drain(inbox) == []
    reopened.close()
