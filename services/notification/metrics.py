"""Prometheus metrics of the notification service."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DELIVERIES_OFFLINE = Counter(
    "haven_deliveries_offline_total",
    "Message deliveries that reached no socket, recorded as pending notifications",
    ["reason"],  # unroutable: no gateway held the device; ack_timeout: routed, never acked
)
DELIVERIES_PUBLISHED = Counter(
    "haven_deliveries_published_total",
    "Deliveries published to haven.deliveries, by frame type and outcome",
    ["frame", "outcome"],  # outcome: routed | returned
)

# --- push (services/notification/push/) ---
PUSHES_SENT = Counter(
    "haven_pushes_sent_total",
    "Pushes a push gateway accepted (2xx), by the body's event",
    ["event"],  # new_message | sync
)
PUSHES_FAILED = Counter(
    "haven_pushes_failed_total",
    "Push attempts that failed, by reason and what followed",
    ["reason", "action"],  # reason: http_<status> | timeout | network | address_refused | …;
    # action: retried | dead_lettered | unsubscribed (410) | dropped (no subscription)
)
PUSHES_DEFERRED = Counter(
    "haven_pushes_deferred_total",
    "Pushes held back by a deferral policy, by the policy that decided",
    ["policy"],  # quiet_hours, and any other registered policy's name
)
PUSHES_DEAD_LETTERED = Counter(
    "haven_pushes_dead_lettered_total",
    "Pushes given up and sent to haven.dead, by reason",
    ["reason"],
)
PUSH_LATENCY = Histogram(
    "haven_push_latency_seconds",
    "Round trip of one push to its push gateway, by verdict",
    ["verdict"],  # sent | retry | gone | give_up
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
