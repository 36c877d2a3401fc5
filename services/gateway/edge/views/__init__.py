"""Importing this package registers every public endpoint."""

from services.gateway.edge.views import (
    accounts_admin,
    admin,
    agreement,
    attachments,
    data,
    history,
    identity,
    messages,
    notifications,
    relationships,
)

__all__ = [
    "accounts_admin",
    "admin",
    "agreement",
    "attachments",
    "data",
    "history",
    "identity",
    "messages",
    "notifications",
    "relationships",
]
