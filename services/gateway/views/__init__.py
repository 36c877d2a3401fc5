"""Importing this package registers every public endpoint."""

from services.gateway.views import admin, identity, relationships

__all__ = ["admin", "identity", "relationships"]
