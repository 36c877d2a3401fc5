"""HAVEN_CORS_ORIGINS in a real browser: an integrator's page on a listed origin calls the API
(preflight, bearer token, readable answers and problems); a page on any other origin cannot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Page

from tests.browser.conftest import NewContext
from tests.browser.support.people import People
from tools.processes import free_port
from tools.stack import Stack

PAGE = "<!doctype html><html lang='en'><head><title>Partner</title></head><body></body></html>"
FETCH = """async ([url, token]) => {
  try {
    const r = await fetch(url, {headers: token ? {Authorization: `Bearer ${token}`} : {}});
    return {status: r.status, body: await r.json(), requestId: r.headers.get('X-Request-Id')};
  } catch (error) {
    return {error: String(error)};
  }
}"""


@pytest.fixture(scope="module")
def ports() -> tuple[int, int]:
    """(the listed partner's port, an unlisted page's port), both on 127.0.0.1."""
    return free_port(), free_port()


@pytest.fixture(scope="module")
def web_overrides(ports: tuple[int, int]) -> dict[str, str]:
    return {"HAVEN_CORS_ORIGINS": f"https://partner.example, http://127.0.0.1:{ports[0]}"}


async def _page_server(port: int) -> web.AppRunner:
    async def index(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    application = web.Application()
    application.router.add_get("/", index)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


@pytest.fixture
async def pages(ports: tuple[int, int]) -> AsyncIterator[tuple[str, str]]:
    """URLs of a page on the listed origin and of one on an unlisted origin."""
    runners = [await _page_server(port) for port in ports]
    yield f"http://127.0.0.1:{ports[0]}/", f"http://127.0.0.1:{ports[1]}/"
    for runner in runners:
        await runner.cleanup()


async def _fetch(page: Page, url: str, token: str = "") -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(FETCH, [url, token])
    return result


async def test_a_listed_origin_calls_the_api_and_an_unlisted_one_cannot(
    new_context: NewContext, pages: tuple[str, str], web_stack: Stack, people: People
) -> None:
    operator = await people.operator()
    api = f"{web_stack.gateway_url}/v1"
    page = await (await new_context()).new_page()
    await page.goto(pages[0])
    listed = await _fetch(page, f"{api}/conversations", operator.access_token)  # preflighted
    assert listed.get("status") == 200, listed
    assert "conversations" in listed["body"]
    assert listed["requestId"]  # an exposed header is readable
    refused = await _fetch(page, f"{api}/conversations", "not-a-token")
    assert refused.get("status") == 401, refused  # problems are readable too
    assert refused["body"]["code"] == "unauthorized"
    await page.goto(pages[1])
    blocked = await _fetch(page, f"{api}/crisis-resources")
    assert "error" in blocked, blocked  # the browser withholds the answer


async def test_preflights_answer_listed_origins_only(
    web_stack: Stack, pages: tuple[str, str]
) -> None:
    url = f"{web_stack.gateway_url}/v1/conversations"
    ask = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    async with aiohttp.ClientSession() as http:
        async with http.options(url, headers={**ask, "Origin": "https://partner.example"}) as r:
            assert r.status == 204
            assert r.headers["Access-Control-Allow-Origin"] == "https://partner.example"
            assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
            assert "Access-Control-Allow-Credentials" not in r.headers
        async with http.options(url, headers={**ask, "Origin": pages[1].rstrip("/")}) as r:
            assert r.status == 403
            assert "Access-Control-Allow-Origin" not in r.headers
        app = f"{web_stack.gateway_url}/app/config.json"
        async with http.get(app, headers={"Origin": "https://partner.example"}) as r:
            assert "Access-Control-Allow-Origin" not in r.headers  # the app is same-origin only
