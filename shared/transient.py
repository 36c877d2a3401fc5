"""Which failures pass by themselves: the one classification every retry loop asks.

A transient failure (database or broker away, a primary stepping down, a confirm that did not
come) is retried without counting toward a dead-letter limit; anything else is a bug or bad
input and is handled as such by the caller.
"""

from __future__ import annotations

from pymongo.errors import ConnectionFailure, ExecutionTimeout, OperationFailure, PyMongoError

from shared.errors import TransientError, UnavailableError

# MongoDB server codes that pass by themselves: shutdown, elections, interruptions, time limits.
TRANSIENT_CODES = frozenset({6, 7, 50, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436})
_TRANSIENT_LABELS = ("RetryableWriteError", "TransientTransactionError")


def is_transient(error: BaseException) -> bool:
    """True for our own UnavailableError/TransientError and for MongoDB outages and fail-overs."""
    if isinstance(error, TransientError | UnavailableError | ConnectionFailure | ExecutionTimeout):
        return True
    if isinstance(error, PyMongoError) and any(map(error.has_error_label, _TRANSIENT_LABELS)):
        return True
    return isinstance(error, OperationFailure) and error.code in TRANSIENT_CODES
