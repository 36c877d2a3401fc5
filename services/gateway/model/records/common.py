"""What the gateway's records share: the roles and how a server id is made."""

from __future__ import annotations

import secrets
from typing import Literal

Role = Literal["client", "coach", "operator"]


def new_id() -> str:
    """Opaque server ids: 96 random bits in [A-Za-z0-9_-]."""
    return secrets.token_urlsafe(12)
