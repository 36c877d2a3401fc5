"""Relationships between a coach and a client; each one is a conversation."""

from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.mongo import Document


class RelationshipExists(Exception):
    """This coach and client are already connected."""


class Relationships:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["relationships"]

    async def insert(self, document: Document) -> None:
        try:
            await self._c.insert_one(document)
        except DuplicateKeyError as error:
            raise RelationshipExists from error

    async def by_id(self, conversation_id: str) -> Document | None:
        return await self._c.find_one({"_id": conversation_id})

    async def of_account(self, account_id: str) -> list[Document]:
        query = {"$or": [{"coach_account_id": account_id}, {"client_account_id": account_id}]}
        return [r async for r in self._c.find(query).sort("created_at", 1)]

    async def connected(self, a: str, b: str) -> bool:
        """True if a and b have (or had) a relationship, in either role."""
        query = {
            "$or": [
                {"coach_account_id": a, "client_account_id": b},
                {"coach_account_id": b, "client_account_id": a},
            ]
        }
        return await self._c.find_one(query, projection={"_id": 1}) is not None

    async def end(self, conversation_id: str, by: str, at: datetime) -> Document | None:
        """Returns the document if this call ended it; None if it was already ended."""
        return await self._c.find_one_and_update(
            {"_id": conversation_id, "status": "active"},
            {"$set": {"status": "ended", "ended_at": at, "ended_by": by}},
            return_document=ReturnDocument.AFTER,
        )
