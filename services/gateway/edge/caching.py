"""`Cache-Control: no-store` on every answer of the public app that does not choose its own
(RFC 9111 §5.2.2.5; OWASP ASVS 8.2.1): API answers carry tokens, reset codes, link
ciphertexts, backup keys, messages, exports and device lists, and neither a shared cache nor
the browser's may keep them. Haven Web's files set their own policy (hashed files are
immutable), as does the attachment download, and keep it."""

from __future__ import annotations

from aiohttp import web

NO_STORE = "no-store"


async def no_store_by_default(_: web.Request, response: web.StreamResponse) -> None:
    """Runs as each response is prepared, after every view and middleware: problems, HTTP
    exceptions and the WebSocket upgrade's refusals included."""
    response.headers.setdefault("Cache-Control", NO_STORE)


def install_no_store(app: web.Application) -> None:
    app.on_response_prepare.append(no_store_by_default)
