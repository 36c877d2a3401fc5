"""Every event type has exactly one publishing service (the topic permissions' source)."""

from __future__ import annotations

from services.broker_users import EVENTS_OWNED, definitions, topic_permissions
from shared.events import EVENT_TYPES
from shared.topology import Topology


def test_every_event_type_has_exactly_one_owner() -> None:
    owned = [t for types in EVENTS_OWNED.values() for t in types]
    assert sorted(owned) == sorted(EVENT_TYPES)


def test_the_definitions_carry_the_topic_permissions_of_both_topic_exchanges() -> None:
    rendered = definitions({s: "p" * 20 for s in EVENTS_OWNED}, "a" * 20)
    exchanges = {(t["user"], t["exchange"]) for t in rendered["topic_permissions"]}
    assert exchanges == {
        (f"haven-{s}", e) for s in EVENTS_OWNED for e in ("haven.events", "haven.deliveries")
    }
    assert len(topic_permissions(Topology())) == 6
