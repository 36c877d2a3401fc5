"""Bearer authentication: a verified token whose device is still active in that session."""

from __future__ import annotations

import time

from services.gateway import copy
from services.gateway.model.principal import Principal
from services.gateway.security.tokens import Claims, InvalidTokenError, TokenSigner
from services.gateway.stores.devicecache import DeviceCache
from shared.errors import UnauthorizedError

# A token's signature is checked once per process: the same token again (every request of a
# session) costs a dict lookup and the expiry check. Revocation does not depend on this: the
# device's session is checked on every request (`DeviceCache`, invalidated by events).
VERIFIED_MAX = 20_000


class Authenticator:
    def __init__(self, signer: TokenSigner, cache: DeviceCache) -> None:
        self._signer = signer
        self._cache = cache
        self._verified: dict[str, Claims] = {}

    async def authenticate(self, token: str, address: str) -> Principal:
        claims = self.claims(token)
        if await self._cache.active_session(claims.device_id, claims.session) != claims.session:
            raise UnauthorizedError("this device session has ended")
        return Principal(claims.account_id, claims.device_id, claims.role, address)

    def claims(self, token: str) -> Claims:
        known = self._verified.get(token)
        if known is not None:
            if time.time() < known.expires_at:  # as PyJWT: expired from `exp` on
                return known
            del self._verified[token]
            raise UnauthorizedError(copy.SESSION_ENDED)
        try:
            claims = self._signer.verify(token)
        except InvalidTokenError as error:
            raise UnauthorizedError(copy.SESSION_ENDED) from error
        if len(self._verified) >= VERIFIED_MAX:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    async def session_is_current(self, device_id: str, session: int) -> int | None:
        """The device's current session (None if revoked): a socket re-checks it per send."""
        return await self._cache.active_session(device_id, session)
