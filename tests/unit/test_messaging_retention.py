"""Retention's stamping rule, and the race it closes: a change that lands between stamping a
new message and inserting it is re-applied once the message is stored."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from services.messaging.retention import Retention, RetentionRepository, expired


class FakeRetention(RetentionRepository):
    """The rule's arithmetic is the real one; the store is a dict."""

    def __init__(self) -> None:
        super().__init__(db={"retention": None, "messages": None}, day_seconds=10.0)  # type: ignore[arg-type]
        self.days: dict[str, int | None] = {}
        self.applied: list[tuple[str, int | None]] = []

    async def days_of(self, conversation_ids: Iterable[str]) -> dict[str, int | None]:
        return {c: self.days[c] for c in conversation_ids if c in self.days}

    async def apply(self, conversation_id: str, days: int | None) -> int:
        self.applied.append((conversation_id, days))
        return 1


def new_doc(cid: str) -> dict[str, Any]:
    return {"conversation_id": cid, "server_ts": datetime(2026, 12, 1, tzinfo=UTC)}


async def test_new_messages_expire_retention_days_after_their_server_time() -> None:
    repo = FakeRetention()
    repo.days = {"c1": 3}
    docs = [new_doc("c1"), new_doc("c2")]
    await Retention(repo).stamp(docs)
    assert docs[0]["expires_at"] == datetime(2026, 12, 1, tzinfo=UTC) + timedelta(seconds=30)
    assert "expires_at" not in docs[1]  # no retention: kept
    assert expired(docs[0], docs[0]["expires_at"]) and not expired(docs[1], datetime.now(UTC))


async def test_a_change_between_stamping_and_inserting_is_reapplied() -> None:
    repo = FakeRetention()
    retention = Retention(repo)
    docs = [new_doc("c1"), new_doc("c2")]
    await retention.stamp(docs)  # no retention yet
    repo.days = {"c1": 1}  # the change's own re-apply ran before these were inserted
    await retention.settle(docs)
    assert repo.applied == [("c1", 1)]
    repo.applied.clear()
    await retention.stamp(docs)
    await retention.settle(docs)  # consistent: nothing to do
    assert repo.applied == []
