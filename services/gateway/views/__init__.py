"""Importing this package registers every public endpoint."""

from services.gateway.views import admin, data, identity, messages, notifications, relationships

__all__ = ["admin", "data", "identity", "messages", "notifications", "relationships"]
