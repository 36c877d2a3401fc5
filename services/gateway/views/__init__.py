"""Importing this package registers every public endpoint."""

from services.gateway.views import (
    admin,
    agreement,
    identity,
    messages,
    notifications,
    relationships,
)

__all__ = ["admin", "agreement", "identity", "messages", "notifications", "relationships"]
