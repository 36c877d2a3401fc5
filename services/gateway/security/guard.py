"""Back-off for every password check (login and password change), per subject and address.

Each attempt is reserved before its password is checked, so parallel guesses are counted
too; the address key is shared by both routes, so guessing from one address counts once.
"""

from __future__ import annotations

from datetime import timedelta

from services.gateway.security.limits import address_bucket
from services.gateway.stores.throttle import Throttle
from shared.errors import RateLimitedError
from shared.events import utcnow

SUBJECT_FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 30
BACKOFF_CAP = timedelta(minutes=15)


def login_subject(handle: str, address: str) -> str:
    return f"h:{handle}|a:{address}"


def password_change_subject(account_id: str) -> str:
    return f"pw:{account_id}"


def address_key(address: str) -> str:
    """IPv6 clients get a whole /64 each: rotating inside it must not reset the back-off."""
    return f"a:{address_bucket(address)}"


class PasswordGuard:
    def __init__(self, throttle: Throttle) -> None:
        self._throttle = throttle

    async def reserve(self, subject: str, address: str) -> None:
        """Count the attempt before the password is checked, or 429 with when to come back."""
        now = utcnow()
        for key, free in (
            (subject, SUBJECT_FREE_FAILURES),
            (address_key(address), ADDRESS_FREE_FAILURES),
        ):
            blocked = await self._throttle.reserve(key, now, free, BACKOFF_CAP)
            if blocked is not None:
                raise RateLimitedError(retry_after=max(1, int((blocked - now).total_seconds()) + 1))

    async def succeeded(self, subject: str, address: str) -> None:
        """A right password clears the subject and gives the address its slot back (NAT)."""
        await self._throttle.clear(subject)
        await self._throttle.release(address_key(address))

    async def failures(self, subject: str) -> int:
        return await self._throttle.failures(subject)
