"""Each service's own RabbitMQ user, with permissions derived from `shared/topology.py`.

RabbitMQ checks three regular expressions per user and virtual host: *configure* (declare and
delete queues and exchanges), *write* (publish to an exchange; bind a queue, which is a write
to the queue) and *read* (consume from a queue; bind from an exchange, which reads it).
Each service declares only its own part of the topology at start (`shared.topology.declare`
with its name: the exchanges it uses, the queues it consumes), publishes only to the exchanges
it needs and consumes only its own queues: one compromised service cannot read another's
queues or forge another's messages (the gateway alone may send commands).

Topic permissions narrow *which routing keys* a user may publish to the two topic exchanges
(RabbitMQ applies them to topic exchanges only, and restricts nothing until one is defined):
on `haven.events` each service may publish only the event types it owns (`EVENTS_OWNED`), so a
compromised messaging cannot announce `account.deleted` nor a compromised gateway forge
`message.stored`; on `haven.deliveries` only `device.<id>` keys.

`python -m services.deploy_secrets` renders these into the broker's definitions file;
tests/integration/api/test_broker_permissions.py runs the three services as these users.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from shared.topology import EXCHANGES_OF, Topology

SERVICES = ("gateway", "messaging", "notification")
VHOST = "haven"
DEFAULT_EXCHANGE = "amq.default"  # RPC replies go to the caller's reply-to through it


@dataclass(frozen=True)
class Permission:
    configure: str
    write: str
    read: str


def _any(topology: Topology, bases: list[str]) -> str:
    """One anchored regex matching exactly these names (a base may hold a regex tail)."""
    return "^" + re.escape(topology.namespace) + "(" + "|".join(bases) + ")$"


def _exchange(base: str) -> str:
    return rf"haven\.{base}"


# Queues each service declares and consumes: its durable ones (`owned_queue_specs`), its
# per-process ones (exclusive, or classic with x-expires) and its RPC queue.
OWN_QUEUES = {
    "gateway": [r"gateway\.(deliveries|invalidation)\.[A-Za-z0-9_.-]+"],
    "messaging": [
        r"messaging\.commands\.\d+",
        r"messaging\.events",
        r"messaging\.rpc",
        r"haven\.dead\.letters",
    ],
    "notification": [
        r"notification\.events",
        r"notification\.push",
        r"notification\.push\.delay\.\d+",
        r"notification\.rpc",
        r"haven\.dead\.letters",
    ],
}
PUBLISHES = {  # exchanges each service publishes to
    "gateway": ["commands", "events", "deliveries", "rpc"],
    "messaging": ["events", "dead"],  # dead: the dead-letter exchange of its queues
    "notification": ["deliveries", "push", "dead"],
}
BINDS_FROM = {  # exchanges its queues are bound from
    "gateway": ["events", "deliveries"],
    "messaging": ["commands", "events", "rpc", "dead"],
    "notification": ["events", "rpc", "push", "dead"],
}


# Event types each service publishes on `haven.events` (every type in `shared.events` has
# exactly one owner: tests/unit/test_broker_users.py).
EVENTS_OWNED: dict[str, tuple[str, ...]] = {
    "gateway": (
        "account.deleted",
        "account.password_reset",
        "agreement.changed",
        "delivery.failed",
        "device.added",
        "device.backup_changed",
        "device.expiring",
        "device.removed",
        "device.session_ended",
        "device.updated",
        "ops.probed",
        "relationship.created",
        "relationship.ended",
        "relationship.status_changed",
        "retention.changed",
        "urgent.attempted",
    ),
    "messaging": ("message.deleted", "message.rejected", "message.stored", "receipt.read"),
    "notification": (),
}
DELIVERY_KEYS = r"^device\.[A-Za-z0-9_-]+$"
NOTHING = "^$"  # no routing key a Haven message uses is empty


@dataclass(frozen=True)
class TopicPermission:
    service: str
    exchange: str
    write: str
    read: str


def topic_permissions(topology: Topology) -> list[TopicPermission]:
    """Per service and topic exchange: the routing keys it may publish. Binding keys stay
    open (`read`): which exchanges a user may bind from is already its read permission."""
    rules = []
    for service in SERVICES:
        owned = EVENTS_OWNED[service]
        events = "^(" + "|".join(re.escape(t) for t in owned) + ")$" if owned else NOTHING
        deliveries = DELIVERY_KEYS if "deliveries" in PUBLISHES[service] else NOTHING
        rules.append(TopicPermission(service, topology.events, events, ".*"))
        rules.append(TopicPermission(service, topology.deliveries, deliveries, ".*"))
    return rules


def permissions(topology: Topology) -> dict[str, Permission]:
    """Each service's user's permissions for `topology` (tests use a namespace)."""
    found = {}
    for service in SERVICES:
        own = OWN_QUEUES[service]
        declared = [_exchange(e) for e in EXCHANGES_OF[service]]
        write = _any(topology, [*own, *(_exchange(e) for e in PUBLISHES[service])])
        if service != "gateway":  # RPC servers answer through the default exchange
            write = f"{write}|^{re.escape(DEFAULT_EXCHANGE)}$"
        found[service] = Permission(
            configure=_any(topology, [*declared, *own]),
            write=write,
            read=_any(topology, [*own, *(_exchange(e) for e in BINDS_FROM[service])]),
        )
    return found


def user_name(service: str) -> str:
    return f"haven-{service}"


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt ‖ SHA-256(salt ‖ password))."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    digest = hashlib.sha256(salt + password.encode("utf-8")).digest()
    return base64.b64encode(salt + digest).decode("ascii")


def definitions(passwords: dict[str, str], admin_password: str) -> dict[str, Any]:
    """The broker's definitions: the vhost, an administrator, one user per service."""
    topology = Topology()
    granted = permissions(topology)
    users = [_user("haven-admin", admin_password, "administrator")]
    users += [_user(user_name(s), passwords[s], "") for s in SERVICES]
    rules = [
        {"user": "haven-admin", "vhost": VHOST, "configure": ".*", "write": ".*", "read": ".*"}
    ]
    rules += [
        {
            "user": user_name(s),
            "vhost": VHOST,
            "configure": granted[s].configure,
            "write": granted[s].write,
            "read": granted[s].read,
        }
        for s in SERVICES
    ]
    topics = [
        {
            "user": user_name(rule.service),
            "vhost": VHOST,
            "exchange": rule.exchange,
            "write": rule.write,
            "read": rule.read,
        }
        for rule in topic_permissions(topology)
    ]
    return {
        "users": users,
        "vhosts": [{"name": VHOST}],
        "permissions": rules,
        "topic_permissions": topics,
    }


def _user(name: str, password: str, tags: str) -> dict[str, Any]:
    return {
        "name": name,
        "password_hash": password_hash(password),
        "hashing_algorithm": "rabbit_password_hashing_sha256",
        "tags": [tags] if tags else [],
    }
