"""Importing this package registers every public endpoint."""

from services.gateway.views import admin, identity, messages, relationships

__all__ = ["admin", "identity", "messages", "relationships"]
