"""Bearer authentication: a verified token whose device is still active in that session."""

from __future__ import annotations

from services.gateway import copy
from services.gateway.devicecache import DeviceCache
from services.gateway.principal import Principal
from services.gateway.tokens import Claims, InvalidTokenError, TokenSigner
from shared.errors import UnauthorizedError


class Authenticator:
    def __init__(self, signer: TokenSigner, cache: DeviceCache) -> None:
        self._signer = signer
        self._cache = cache

    async def authenticate(self, token: str, address: str) -> Principal:
        claims = self.claims(token)
        if await self._cache.active_session(claims.device_id, claims.session) != claims.session:
            raise UnauthorizedError("this device session has ended")
        return Principal(claims.account_id, claims.device_id, claims.role, address)

    def claims(self, token: str) -> Claims:
        try:
            return self._signer.verify(token)
        except InvalidTokenError as error:
            raise UnauthorizedError(copy.SESSION_ENDED) from error

    async def session_is_current(self, device_id: str, session: int) -> int | None:
        """The device's current session (None if revoked): a socket re-checks it per send."""
        return await self._cache.active_session(device_id, session)
