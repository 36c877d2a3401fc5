"""Importing this package registers every public endpoint."""

from services.gateway.views import admin, identity, messages, notifications, relationships

__all__ = ["admin", "identity", "messages", "notifications", "relationships"]
