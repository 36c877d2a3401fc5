"""The notification database: the only module that speaks to its collections."""

from __future__ import annotations

from pymongo import IndexModel

from shared.mongo import IndexSpec
from shared.probes import PROBES

INDEXES: IndexSpec = {
    PROBES: [IndexModel("received_at", expireAfterSeconds=7 * 24 * 3600)],
}
