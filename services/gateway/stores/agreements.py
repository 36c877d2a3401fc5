"""The messaging agreement's published versions and the append-only consent record."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.gateway.model.records import new_id
from shared.mongo import Document

ConsentKind = Literal["accepted", "withdrawn"]


@dataclass(frozen=True)
class AgreementVersion:
    version: str
    text: str
    published_at: datetime
    published_by: str


@dataclass(frozen=True)
class ConsentRecord:
    """One acceptance or withdrawal; never changed or removed (part of the client's export)."""

    record_id: str
    account_id: str
    kind: ConsentKind
    version: str
    at: datetime


class AgreementVersionExistsError(Exception):
    """A version is published once; its text never changes."""


class AgreementRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._versions = db["agreements"]
        self._consents = db["consents"]

    async def publish(self, agreement: AgreementVersion) -> None:
        doc = {
            "_id": agreement.version,
            "text": agreement.text,
            "published_at": agreement.published_at,
            "published_by": agreement.published_by,
        }
        try:
            await self._versions.insert_one(doc)
        except DuplicateKeyError as error:
            raise AgreementVersionExistsError from error

    async def version(self, version: str) -> AgreementVersion | None:
        doc = await self._versions.find_one({"_id": version})
        return _version(doc) if doc else None

    async def current(self) -> AgreementVersion | None:
        """The newest published version; None while none is published."""
        doc = await self._versions.find_one({}, sort=[("published_at", DESCENDING)])
        return _version(doc) if doc else None

    async def record(self, account_id: str, kind: ConsentKind, version: str, at: datetime) -> None:
        doc = {"_id": new_id(), "account_id": account_id, "kind": kind, "version": version}
        # `at` has millisecond precision in MongoDB; `order` keeps quick successions in order.
        await self._consents.insert_one({**doc, "at": at, "order": time.time_ns()})

    async def latest_consent(self, account_id: str) -> ConsentRecord | None:
        doc = await self._consents.find_one(
            {"account_id": account_id}, sort=[("order", DESCENDING)]
        )
        return _consent(doc) if doc else None

    async def consents_of(self, account_id: str) -> list[ConsentRecord]:
        """Every acceptance and withdrawal of the account, oldest first (for its export)."""
        cursor = self._consents.find({"account_id": account_id}).sort("order", 1)
        return [_consent(doc) async for doc in cursor]


def _version(doc: Document) -> AgreementVersion:
    return AgreementVersion(
        version=doc["_id"],
        text=doc["text"],
        published_at=doc["published_at"],
        published_by=doc.get("published_by", ""),
    )


def _consent(doc: Document) -> ConsentRecord:
    return ConsentRecord(
        record_id=doc["_id"],
        account_id=doc["account_id"],
        kind=doc["kind"],
        version=doc["version"],
        at=doc["at"],
    )
