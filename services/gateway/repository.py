"""The gateway database: accounts, devices, tokens, invites, relationships, audit."""

from __future__ import annotations

from shared.mongo import IndexSpec

INDEXES: IndexSpec = {}
