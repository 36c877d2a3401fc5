"""Prometheus metrics of the messaging service."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

STORED = Counter("haven_messaging_messages_stored_total", "Messages stored (new documents)")
EXPIRED = Counter(
    "haven_messaging_messages_expired_total", "Messages deleted because their retention passed"
)
DUPLICATES = Counter(
    "haven_messaging_duplicates_total", "message.send commands for an already stored message"
)
REJECTED = Counter(
    "haven_messaging_rejected_total", "message.send commands rejected, by code", ["code"]
)
BATCH_SIZE = Histogram(
    "haven_messaging_batch_size",
    "Commands handled together from one shard",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
BATCH_RETRIES = Counter(
    "haven_messaging_batch_retries_total", "Command batches retried, by reason", ["reason"]
)
