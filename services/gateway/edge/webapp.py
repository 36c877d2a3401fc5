"""Haven Web at /app/: the built bundle served from one directory under a strict CSP, with
hashed files cached for a year and the entry points never cached, so a deploy takes effect
at the next load and nothing the app needs comes from anywhere but this gateway."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from aiohttp import web

import services
from services.gateway.edge.http import PUBLIC_VIEWS
from services.gateway.edge.problems import problem
from services.gateway.settings import GatewaySettings

log = structlog.get_logger(__name__)

PREFIX = "/app/"
DEFAULT_DIR = Path(services.__file__).resolve().parent.parent / "clients" / "web" / "dist"
# No inline script or style, no eval (WebAssembly compilation only: libsodium), no plugins,
# no <base>, no framing, no request to any other origin; blob:/data: for images and voice
# notes decrypted in the page.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "connect-src 'self'",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
IMMUTABLE = "public, max-age=31536000, immutable"
# index.html is never stored (a Back after "Leave quickly" cannot show it from the
# back/forward cache); the service worker and other unhashed files are revalidated each time.
NO_STORE = "no-store"
REVALIDATE = "no-cache"
# esbuild's and Vite's `[name]-[hash].ext`: a hash has 8+ characters with a digit or capital.
HASHED = re.compile(r"-(?=[A-Za-z0-9_]*[A-Z0-9])[A-Za-z0-9_]{8,}\.[A-Za-z0-9]+$")


@dataclass
class WebApp:
    """Where the bundle is and what the app is told about this deployment."""

    directory: Path
    exit_url: str
    warned: bool = field(default=False)

    def bundle(self) -> Path | None:
        """The bundle's directory when a build is there; a warning the first time it is not."""
        if (self.directory / "index.html").is_file():
            return self.directory
        if not self.warned:
            self.warned = True
            log.warning("web_app_missing", directory=str(self.directory), fix="make web")
        return None


webapp_key = web.AppKey("webapp", WebApp)


def _file(root: Path, tail: str) -> Path | None:
    """The file `tail` names inside `root`, never outside it (no `..`, no hidden files)."""
    parts = tail.split("/")
    if any(not p or p.startswith(".") for p in parts):
        return None
    path = (root / tail).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        return None
    return path


async def serve(request: web.Request) -> web.StreamResponse:
    """A file of the bundle; index.html for /app/ and every client-side route (no dot)."""
    webapp = request.app[webapp_key]
    root = webapp.bundle()
    if root is None:
        return problem(503, "unavailable", "Haven Web has not been built on this server")
    tail = request.match_info["tail"]
    if "." not in tail.rsplit("/", 1)[-1]:
        response = web.FileResponse(root / "index.html")
        response.headers["Cache-Control"] = NO_STORE
        return response
    path = _file(root, tail)
    if path is None or path.suffix == ".gz":
        return problem(404, "not_found", "There is no such file in Haven Web")
    response = web.FileResponse(path)
    response.headers["Cache-Control"] = IMMUTABLE if HASHED.search(path.name) else REVALIDATE
    # Both encodings of a file share its URL: a cache must key them apart (aiohttp says so
    # only when it sends the .gz).
    response.headers["Vary"] = "Accept-Encoding"
    return response


async def config(request: web.Request) -> web.Response:
    """What the operator decided for the app; read at every start, never cached."""
    body = {"exit_url": request.app[webapp_key].exit_url}
    return web.json_response(body, headers={"Cache-Control": NO_STORE})


async def to_app(_: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(PREFIX)


async def _secure(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer under /app/ — files, redirects, problems — carries the same policy."""
    if request.path == PREFIX.rstrip("/") or request.path.startswith(PREFIX):
        response.headers.update(SECURITY_HEADERS)


def install_webapp(app: web.Application, settings: GatewaySettings) -> None:
    """Register /app/ (and / → /app/) on the gateway's public app."""
    app[webapp_key] = WebApp(settings.web_dir or DEFAULT_DIR, settings.web_exit_url)
    for view in (serve, config, to_app):
        PUBLIC_VIEWS.add(view)
    app.router.add_get("/", to_app)
    app.router.add_get("/app", to_app)
    app.router.add_get("/app/config.json", config)
    app.router.add_get("/app/{tail:.*}", serve)
    app.on_response_prepare.append(_secure)
