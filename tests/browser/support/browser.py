"""Debian's Chromium driven by Playwright, with guards that fail a test on an uncaught page
error, a Content-Security-Policy violation, or any request that would leave 127.0.0.1."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError

CHROMIUM = Path("/usr/bin/chromium")
# Debian's build runs as root in CI (no user namespaces there) and must not phone home.
# A fake microphone (a generated tone) answers getUserMedia without a prompt, for voice notes;
# it changes nothing for a page that never asks for media.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--no-first-run",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
# The operator's default neutral page; tests answer it locally (it is never fetched).
EXIT_URL = "https://www.bbc.co.uk/weather"
NEUTRAL_PAGE = (
    "<!doctype html><html lang='en'><head><title>Weather</title></head>"
    "<body><h1>Weather forecast</h1></body></html>"
)
LOCAL_HOSTS = {"127.0.0.1"}
VIEWPORT = {"width": 1280, "height": 800}


@dataclass
class Guard:
    """What a browser context did that a test must not allow; `problems()` lists it."""

    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)  # kept for reading, not failing
    outside_requests: list[str] = field(default_factory=list)
    exits: list[str] = field(default_factory=list)  # navigations to the exit page, answered here

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.csp_violations.append(text)
        else:
            self.console_errors.append(text)

    async def route(self, route: Route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname
        if host in LOCAL_HOSTS:
            await route.continue_()
        elif url.rstrip("/") == EXIT_URL:
            self.exits.append(url)
            await route.fulfill(status=200, content_type="text/html", body=NEUTRAL_PAGE)
        else:
            self.outside_requests.append(url)
            await route.abort("blockedbyclient")

    def problems(self) -> list[str]:
        return [
            *(f"uncaught page error: {e}" for e in self.page_errors),
            *(f"CSP violation: {v}" for v in self.csp_violations),
            *(f"request outside 127.0.0.1: {u}" for u in self.outside_requests),
        ]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless Debian Chromium (never a downloaded one: `playwright install` is not used)."""
    if not CHROMIUM.exists():  # noqa: ASYNC240 - once per session, before anything runs
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def guarded_context(browser: Browser, **options: object) -> tuple[BrowserContext, Guard]:
    """A fresh context (its own storage: another person's browser) with a guard on every page."""
    guard = Guard()
    settings: dict[str, object] = {"viewport": VIEWPORT, "locale": "en-GB", **options}
    context = await browser.new_context(**settings)  # type: ignore[arg-type]
    await context.route("**/*", guard.route)
    context.on("page", guard.watch)
    return context, guard


async def close_quietly(context: BrowserContext) -> None:
    with contextlib.suppress(PlaywrightError):  # the browser went first
        await context.close()
