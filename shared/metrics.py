"""Prometheus metrics shared by every service (each process has its own registry)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

BUS_PUBLISHED = Counter(
    "haven_bus_published_total", "Messages confirmed by the broker", ["exchange"]
)
BUS_CONSUMED = Counter(
    "haven_bus_consumed_total", "Messages consumed, by outcome", ["queue", "outcome"]
)
HTTP_REQUESTS = Histogram(
    "haven_http_request_seconds", "HTTP request latency", ["method", "route", "status"]
)
