"""HTTP to the gateway with the session's tokens: bearer auth, refresh before expiry and on 401.

One ``Transport`` per client owns the access token. Refreshes are serialised by a
lock and skipped when another caller already refreshed, because the gateway treats
a refresh token presented twice after 30 s as theft and revokes the whole session.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from haven_client.errors import (
    HavenApiError,
    InsecureTransport,
    NotLoggedIn,
    SessionExpired,
    Unauthorized,
    api_error,
)
from haven_client.keystore import Keystore
from haven_client.models import Session

_MAX_MARGIN = 60.0


def check_server_url(url: str, *, allow_insecure_http: bool = False) -> str:
    """``url`` if it is https, or plain http to this machine (or explicitly allowed).

    Passwords, tokens and the socket travel over it: without TLS anyone on the path
    could take over the session, so plain http elsewhere must be asked for by name."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise InsecureTransport(f"the server URL must look like https://host, not {url!r}")
    if scheme == "http" and not (allow_insecure_http or _is_loopback(parts.hostname)):
        raise InsecureTransport(
            f"{parts.hostname} would be reached without TLS: use https, "
            "or pass allow_insecure_http=True for a trusted network"
        )
    return url


def _is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (also IPv4-mapped) and the name ``localhost`` itself."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.rstrip(".") == "localhost"  # urlsplit already lowercased it
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class Transport:
    """Sends requests, turns problem+json into exceptions, keeps the access token fresh."""

    def __init__(
        self,
        base_url: str,
        http: aiohttp.ClientSession,
        store: Keystore,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.store = store
        self._clock = clock
        self._access: str | None = None
        self._expires_at = 0.0
        self._lifetime = 0.0
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[str], None]] = []

    # --- tokens -----------------------------------------------------------------------

    @property
    def has_session(self) -> bool:
        return self._access is not None or self.store.state.refresh_token is not None

    def install(self, session: Session) -> None:
        """Adopt a login or refresh answer; the refresh token is persisted at once."""
        self._access = session.access_token
        self._lifetime = float(session.expires_in)
        self._expires_at = self._clock() + self._lifetime
        self.store.state.refresh_token = session.refresh_token
        self.store.save()
        for listener in list(self._listeners):
            listener(session.access_token)

    def on_new_token(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call ``listener`` with every new access token (an open socket must re-auth with it)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def forget(self) -> None:
        self._access = None
        self._expires_at = 0.0
        self.store.state.refresh_token = None
        self.store.save()

    def seconds_until_refresh(self) -> float:
        """When the token should be renewed: a quarter of its life early, at most a minute."""
        margin = min(_MAX_MARGIN, self._lifetime / 4)
        return max(0.0, self._expires_at - margin - self._clock())

    async def access_token(self) -> str:
        if self._access is None or self.seconds_until_refresh() <= 0:
            await self.refresh(stale=self._access)
        assert self._access is not None
        return self._access

    async def refresh(self, stale: str | None = None) -> None:
        """Renew once for every caller that saw the same ``stale`` token."""
        async with self._lock:
            if self._access is not None and self._access != stale:
                return
            token = self.store.state.refresh_token
            if token is None:
                raise NotLoggedIn("no session: log in first")
            try:
                body = await self.request(
                    "POST", "/v1/sessions/refresh", json={"refresh_token": token}, auth=False
                )
            except Unauthorized as exc:
                self.forget()
                raise SessionExpired("the session ended; log in again") from exc
            self.install(Session.model_validate(body))

    # --- requests ---------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Any:
        """The parsed JSON body (None for 204); a 401 is retried once after a refresh."""
        if not auth:
            return await self._send(method, path, json, params, None)
        token = await self.access_token()
        try:
            return await self._send(method, path, json, params, token)
        except Unauthorized:
            await self.refresh(stale=token)
            return await self._send(method, path, json, params, await self.access_token())

    async def _send(
        self,
        method: str,
        path: str,
        json: Any,
        params: dict[str, str] | None,
        token: str | None,
    ) -> Any:
        headers = {"X-Request-Id": uuid.uuid4().hex, "Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        url = self.base_url + path
        async with self.http.request(
            method, url, json=json, params=params, headers=headers
        ) as response:
            if response.status == 204:
                return None
            body = await _json_or_empty(response)
            if response.status >= 400:
                raise _problem(response, body)
            return body

    def ws_url(self) -> str:
        return ("ws" + self.base_url[4:] if self.base_url.startswith("http") else self.base_url) + (
            "/v1/ws"
        )


async def _json_or_empty(response: aiohttp.ClientResponse) -> Any:
    try:
        return await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        return {}


def _problem(response: aiohttp.ClientResponse, body: Any) -> HavenApiError:
    problem = dict(body) if isinstance(body, dict) else {}
    retry_after = response.headers.get("Retry-After")
    if retry_after is not None and retry_after.isdigit():
        problem.setdefault("retry_after", int(retry_after))
    return api_error(response.status, problem)
