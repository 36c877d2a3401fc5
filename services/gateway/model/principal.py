"""Who is calling: from a verified access token whose device is still active."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    account_id: str
    device_id: str
    role: str
    address: str
