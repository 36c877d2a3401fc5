"""Rate-limit buckets shared by every gateway replica: one atomic update decides each request.

Each key holds its GCRA theoretical arrival time (`tat`, Unix seconds). The update is an
aggregation pipeline, so reading the time, deciding and advancing it happen in one
round trip that no parallel request on any replica can interleave with.
"""

from __future__ import annotations

import contextlib
import math
from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.gateway.model.rates import Decision, Rate
from shared.errors import UnavailableError
from shared.mongo import Document


class RateBuckets:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._c = db["rate_limits"]

    async def take(self, key: str, rate: Rate, now: datetime) -> Decision:
        granted, retry_after = await self.take_up_to(key, rate, now, 1)
        return Decision(granted > 0, retry_after)

    async def wait(self, key: str, rate: Rate, now: datetime) -> int:
        """Whole seconds until the bucket holds a token (0: it holds one now); takes none."""
        doc = await self._c.find_one({"_id": key}, {"tat": 1})
        if doc is None or doc.get("tat") is None:
            return 0
        ahead = float(doc["tat"]) - now.timestamp()
        return 0 if ahead <= rate.tolerance else max(1, math.ceil(ahead - rate.tolerance))

    async def take_up_to(self, key: str, rate: Rate, now: datetime, want: int) -> tuple[int, int]:
        """Take as many of `want` tokens as the bucket holds, in one atomic update: how many
        were granted, and (when none) the whole seconds until one would be."""
        at = now.timestamp()
        # The arrival time never runs further than tolerance + interval ahead of now.
        expires_at = now + timedelta(seconds=rate.tolerance + rate.interval + 60)
        pipeline: list[Document] = [
            {"$set": {"tat": {"$max": [{"$ifNull": ["$tat", at]}, at]}}},
            # Tokens left: one, plus one per interval the arrival time may still run ahead.
            {
                "$set": {
                    "granted": {
                        "$max": [
                            0,
                            {
                                "$min": [
                                    want,
                                    {
                                        "$add": [
                                            {
                                                "$floor": {
                                                    "$divide": [
                                                        {
                                                            "$subtract": [
                                                                rate.tolerance,
                                                                {"$subtract": ["$tat", at]},
                                                            ]
                                                        },
                                                        rate.interval,
                                                    ]
                                                }
                                            },
                                            1,
                                        ]
                                    },
                                ]
                            },
                        ]
                    }
                }
            },
            {
                "$set": {
                    "tat": {"$add": ["$tat", {"$multiply": ["$granted", rate.interval]}]},
                    "expires_at": {"$literal": expires_at},
                }
            },
        ]
        after = None
        for _ in range(3):  # only a key that does not exist yet loops, once
            after = await self._c.find_one_and_update(
                {"_id": key}, pipeline, return_document=ReturnDocument.AFTER
            )
            if after is not None:
                break
            # Created apart from the decision, never by an upsert: parallel first requests
            # racing an upsert were seen to spend tokens nobody was granted.
            with contextlib.suppress(DuplicateKeyError):
                await self._c.insert_one({"_id": key, "expires_at": expires_at})
        if after is None:
            raise UnavailableError("the rate limit could not be read; try again")
        granted = int(after["granted"])
        if granted > 0:
            return granted, 0
        wait = float(after["tat"]) - rate.tolerance - at
        return 0, max(1, math.ceil(wait))
