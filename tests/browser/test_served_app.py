"""How the gateway serves Haven Web: the security headers on every /app/ answer, a CSP the
browser really enforces (and libsodium's WebAssembly still runs under), long caching only for
hashed files, gzip from the precompressed siblings, the operator's config, nothing fetched
from anywhere but the gateway, and a clear 503 where no build exists."""

from __future__ import annotations

import asyncio
import gzip
import re
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import BrowserContext, Page, Route, expect

from services.gateway.edge.webapp import CSP, DEFAULT_DIR
from tests.browser.conftest import NewContext
from tests.browser.support.browser import EXIT_URL, Guard
from tests.browser.support.people import People, password_for
from tests.support.inprocess import AppStack

SECURITY = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
IMMUTABLE = "public, max-age=31536000, immutable"


def bundle_files() -> list[str]:
    """The scripts and stylesheets index.html loads, as /app/ paths."""
    html = (DEFAULT_DIR / "index.html").read_text()
    found = re.findall(r'(?:src|href)="/app/([^":]+\.(?:js|css))"', html)
    assert found, f"index.html loads no script or stylesheet: {html[:300]}"
    return found


def assert_secured(headers: aiohttp.typedefs.LooseHeaders) -> None:
    for name, value in SECURITY.items():
        assert headers.get(name) == value, (name, headers.get(name))  # type: ignore[union-attr]


@pytest.fixture
async def http() -> aiohttp.ClientSession:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session  # type: ignore[misc]


async def test_the_app_and_its_client_routes_are_index_html_never_cached(
    http: aiohttp.ClientSession, app_url: str
) -> None:
    for path in ("", "conversations/abc", "settings"):
        async with http.get(app_url + path, headers={"Accept-Encoding": "identity"}) as r:
            assert r.status == 200
            assert r.content_type == "text/html"
            assert r.headers["Cache-Control"] == "no-store"
            assert_secured(r.headers)
            assert await r.read() == (DEFAULT_DIR / "index.html").read_bytes()


async def test_hashed_files_are_immutable_and_gzipped_from_their_siblings(
    http: aiohttp.ClientSession, app_url: str
) -> None:
    for name in bundle_files():
        plain = (DEFAULT_DIR / name).read_bytes()
        async with http.get(app_url + name, headers={"Accept-Encoding": "gzip, br"}) as r:
            assert r.status == 200, name
            assert r.headers["Cache-Control"] == IMMUTABLE
            assert r.headers["Content-Encoding"] == "gzip", name
            assert_secured(r.headers)
            body = await r.read()
        assert body == (DEFAULT_DIR / f"{name}.gz").read_bytes()
        assert gzip.decompress(body) == plain
        async with http.get(app_url + name, headers={"Accept-Encoding": "identity"}) as r:
            assert "Content-Encoding" not in r.headers
            assert r.headers["Vary"] == "Accept-Encoding"
            assert await r.read() == plain


async def test_the_service_worker_and_config_are_revalidated(
    http: aiohttp.ClientSession, app_url: str
) -> None:
    assert (DEFAULT_DIR / "sw.js").is_file(), "the build has no sw.js"
    async with http.get(app_url + "sw.js") as r:
        assert r.status == 200
        assert r.headers["Cache-Control"] == "no-cache"
        assert "javascript" in r.content_type
        assert_secured(r.headers)
    async with http.get(app_url + "config.json") as r:
        assert r.status == 200
        assert r.headers["Cache-Control"] == "no-store"
        assert_secured(r.headers)
        assert await r.json() == {"exit_url": EXIT_URL}


async def test_redirects_and_missing_files(http: aiohttp.ClientSession, app_url: str) -> None:
    base = app_url.removesuffix("/app/")
    for path in ("/", "/app"):
        async with http.get(base + path, allow_redirects=False) as r:
            assert r.status == 302
            assert r.headers["Location"] == "/app/"
    for path in ("/app/nothing-ABCD2345.js", "/app/.env", "/app/assets/.hidden.js"):
        async with http.get(base + path) as r:
            assert r.status == 404, path
            assert r.content_type == "application/problem+json"
            assert_secured(r.headers)
    for path in ("/app/%2e%2e/pyproject.toml", "/app/..%2fpyproject.toml", "/app/../../README.md"):
        async with http.get(base + path) as r:
            assert r.status == 404, path
            assert b"[project]" not in await r.read()
    name = bundle_files()[0]
    async with http.get(f"{app_url}{name}.gz") as r:  # only through Accept-Encoding
        assert r.status == 404


async def test_without_cors_origins_the_api_sends_no_cors_headers(
    http: aiohttp.ClientSession, app_url: str
) -> None:
    api = app_url.removesuffix("/app/") + "/v1/crisis-resources"
    origin = {"Origin": "https://elsewhere.example"}
    async with http.get(api, headers=origin) as r:
        assert not [h for h in r.headers if h.lower().startswith("access-control-")]
    preflight = {**origin, "Access-Control-Request-Method": "POST"}
    async with http.options(api, headers=preflight) as r:
        assert r.status != 204
        assert not [h for h in r.headers if h.lower().startswith("access-control-")]


async def _with_inline_script(route: Route) -> None:
    """The served index.html, headers and all, with an inline script added to it."""
    response = await route.fetch()
    html = (await response.text()).replace(
        "</body>", "<script>window.inlineRan = true;</script></body>"
    )
    await route.fulfill(response=response, body=html)


async def test_the_browser_enforces_the_policy(
    page: Page, app_url: str, guards: dict[BrowserContext, Guard]
) -> None:
    await page.route(app_url, _with_inline_script)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.goto(app_url)
    await expect(page.get_by_role("button", name="Leave quickly").first).to_be_visible()
    await page.wait_for_load_state("networkidle")
    assert await page.evaluate("window.inlineRan") is None
    [guard] = guards.values()
    assert any("inline script" in v for v in guard.csp_violations), guard.csp_violations
    guard.csp_violations.clear()  # seen and expected: the policy did its job
    assert requests and all(u.startswith(app_url.removesuffix("/app/")) for u in requests)
    assert not guard.outside_requests


# Counts WebAssembly instances that were really made: libsodium falls back to plain JavaScript
# when the CSP forbids WebAssembly, and the fallback works (slowly), so success alone says
# nothing about the path taken.
WASM_PROBE = """
window.__wasmInstances = 0;
for (const name of ['instantiate', 'instantiateStreaming']) {
  const original = WebAssembly[name];
  WebAssembly[name] = function (...args) {
    return original.apply(this, args).then((result) => {
      window.__wasmInstances += 1;
      return result;
    });
  };
}
"""


async def test_libsodium_runs_as_webassembly_under_the_policy(
    new_context: NewContext, app_url: str, people: People
) -> None:
    coach = await people.coach()
    context = await new_context()
    await context.add_init_script(WASM_PROBE)
    page = await context.new_page()
    await page.goto(app_url)
    await page.get_by_label("Handle").fill(coach.handle)
    await page.get_by_label("Password").fill(password_for(coach.handle))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Leave quickly").first).to_be_visible()
    # Polled from here: wait_for_function would compile its predicate in the page, which this
    # very policy forbids (no 'unsafe-eval').
    async with asyncio.timeout(20):
        while not await page.evaluate("() => window.__wasmInstances"):
            await asyncio.sleep(0.1)


@pytest.fixture
def stack_overrides(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "no-build").mkdir()
    return {"HAVEN_WEB_DIR": str(tmp_path / "no-build")}


async def test_without_a_build_the_gateway_serves_the_api_and_a_clear_503(
    app_stack: AppStack,
) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(2):
            async with http.get(f"{app_stack.gateway_url}/app/") as r:
                assert r.status == 503
                assert r.content_type == "application/problem+json"
                assert "not been built" in (await r.json())["detail"]
                assert_secured(r.headers)
        async with http.get(f"{app_stack.gateway_url}/v1/crisis-resources") as r:
            assert r.status == 200
    warnings = [x for x in app_stack.log_lines("gateway") if x.get("event") == "web_app_missing"]
    assert len(warnings) == 1
