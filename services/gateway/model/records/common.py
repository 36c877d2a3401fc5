"""What the gateway's records share: the roles and how a server id is made."""

from __future__ import annotations

import secrets
from typing import Literal

Role = Literal["client", "coach", "operator"]


def unflagged_token(nbytes: int) -> str:
    """A random URL-safe token that never begins with "-": people paste ids and codes into
    command lines, where a leading dash reads as an option (`haven send -Ek09…`)."""
    while True:
        token = secrets.token_urlsafe(nbytes)
        if not token.startswith("-"):
            return token


def new_id() -> str:
    """Opaque server ids: about 95 random bits in [A-Za-z0-9_-], never starting with "-"."""
    return unflagged_token(12)
