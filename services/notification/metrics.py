"""Prometheus metrics of the notification service."""

from __future__ import annotations

from prometheus_client import Counter

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
