"""Haven Web's two performance figures, printed and never asserted (timing is the machine's):
the bytes a first load of /app/ transfers compressed (target < 300 KiB), and how long a
conversation of 500 messages takes to render once opened (target < 1 s).
`python -m bench.web` runs this module alone with its output shown."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, Request, expect

from tests.browser.conftest import NewContext
from tests.browser.support import app
from tests.browser.support.people import People, new_handle, password_for
from tests.support.sdk import SdkDevice
from tests.support.stack import Stack

MESSAGES = 500
COACH_NAME = "Coach Bench"
KIB = 1024


class Transfer:
    """Bytes on the wire (headers + encoded body) of every finished request of a context."""

    def __init__(self, context: BrowserContext) -> None:
        self.requests: list[tuple[str, int]] = []
        context.on("requestfinished", self._finished)
        self._pending: list[Request] = []

    def _finished(self, request: Request) -> None:
        self._pending.append(request)

    async def settle(self) -> None:
        while self._pending:
            request = self._pending.pop()
            sizes = await request.sizes()
            size = sizes["responseBodySize"] + sizes["responseHeadersSize"]
            self.requests.append((request.url, size))

    @property
    def total(self) -> int:
        return sum(size for _, size in self.requests)


def report(line: str, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\n[haven-web perf] {line}", end="")


async def test_first_load_transfer(
    new_context: NewContext, app_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    context = await new_context()
    transfer = Transfer(context)
    page = await context.new_page()
    await page.goto(app_url)
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await page.wait_for_load_state("networkidle")
    await transfer.settle()
    largest = sorted(transfer.requests, key=lambda r: -r[1])[:4]
    report(
        f"first load of /app/: {transfer.total / KIB:.1f} KiB in {len(transfer.requests)} "
        f"requests (target < 300 KiB); largest: "
        + ", ".join(f"{url.rsplit('/', 1)[-1]} {size / KIB:.1f} KiB" for url, size in largest),
        capsys,
    )
    assert transfer.requests  # the figure is printed, the load itself must have happened


async def _seeded_client(
    web_stack: Stack, app_url: str, people: People, page: Page, tmp: Path
) -> SdkDevice:
    """A client signed in in `page` whose conversation holds MESSAGES messages from a coach."""
    coach = await SdkDevice.create(web_stack.gateway_url, tmp, "coach")
    handle = new_handle("coach")
    await coach.client.register(
        handle, password_for(handle), await people.coach_invite(), COACH_NAME
    )
    await coach.client.login(handle, password_for(handle), device_name="laptop")
    code = (await coach.client.create_invite("client")).code
    client = new_handle("client")
    await app.register(page, app_url, code, client, password_for(client), "Sam", keep=True)
    await app.accept_agreement(page)
    await expect(page.get_by_role("link", name=COACH_NAME).first).to_be_visible()
    [conversation] = await coach.client.conversations()
    for i in range(MESSAGES):
        await coach.client.send_text(conversation.conversation_id, f"bench message {i:03d}")
    return coach


async def test_opening_a_conversation_of_500_messages(
    web_stack: Stack,
    app_url: str,
    people: People,
    new_context: NewContext,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    context = await new_context()
    page = await context.new_page()
    coach = await _seeded_client(web_stack, app_url, people, page, tmp_path)
    try:
        await page.reload()  # a fresh start (kept signed in): nothing of it in memory
        link = page.get_by_role("link", name=COACH_NAME).first
        await link.wait_for(timeout=30_000)
        started = time.perf_counter()
        await link.click()
        last = f"bench message {MESSAGES - 1:03d}"
        await expect(page.get_by_text(last, exact=True)).to_be_visible(timeout=60_000)
        elapsed = time.perf_counter() - started
        shown = await page.get_by_text("bench message ", exact=False).count()
        report(
            f"opening a conversation of {MESSAGES} messages: newest shown after "
            f"{elapsed * 1000:.0f} ms with {shown} messages rendered (target < 1000 ms)",
            capsys,
        )
        assert shown > 0
    finally:
        await coach.close()
