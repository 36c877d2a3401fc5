"""Relationships between a coach and a client; each one is a conversation."""

from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.gateway.records import Relationship
from shared.mongo import Document


class RelationshipExistsError(Exception):
    """This coach and client are already connected."""


class RelationshipRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["relationships"]

    async def insert(self, relationship: Relationship) -> None:
        try:
            await self._c.insert_one(relationship.to_doc())
        except DuplicateKeyError as error:
            raise RelationshipExistsError from error

    async def by_id(self, conversation_id: str) -> Relationship | None:
        doc = await self._c.find_one({"_id": conversation_id})
        return Relationship.from_doc(doc) if doc else None

    async def of_account(self, account_id: str) -> list[Relationship]:
        query = {"$or": [{"coach_account_id": account_id}, {"client_account_id": account_id}]}
        return [
            Relationship.from_doc(doc) async for doc in self._c.find(query).sort("created_at", 1)
        ]

    async def connected(self, a: str, b: str) -> bool:
        """True if a and b have (or had) a relationship, in either role."""
        query = {
            "$or": [
                {"coach_account_id": a, "client_account_id": b},
                {"coach_account_id": b, "client_account_id": a},
            ]
        }
        return await self._c.find_one(query, projection={"_id": 1}) is not None

    async def end(self, conversation_id: str, by: str, at: datetime) -> bool:
        """True if this call ended it; False if it was already ended."""
        doc = await self._c.find_one_and_update(
            {"_id": conversation_id, "status": "active"},
            {"$set": {"status": "ended", "ended_at": at, "ended_by": by}},
            return_document=ReturnDocument.AFTER,
        )
        return doc is not None
