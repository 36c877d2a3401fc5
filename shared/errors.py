"""Domain errors shared by services; they know nothing of HTTP or AMQP."""

from __future__ import annotations


class HavenError(Exception):
    """Base of every error the services raise on purpose."""


class Unavailable(HavenError):
    """A dependency (broker, database, another service) did not answer in time."""


class Unroutable(HavenError):
    """The broker accepted a mandatory message but no queue was bound for it."""


class PermanentFailure(HavenError):
    """A message can never be processed (malformed, invalid): dead-letter it."""


class TransientFailure(HavenError):
    """Processing failed for a reason that passes (database down): retry, never dead-letter."""
