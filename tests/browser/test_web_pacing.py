"""Sending never looks like rejection (issues 18 and 25): a burst past the send budget shows
the calm "Sending shortly…" while the SDK's outbox waits for the limit, never "Not sent" nor a
dropped connection, and every message arrives, in order."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import NewContext
from tests.browser.support import app
from tests.browser.support.people import People
from tests.browser.test_web_moments import coach_and_browser_client
from tools.api import Api

T = 60_000
BURST = 3


@pytest.fixture(scope="module")
def web_overrides() -> dict[str, str]:
    """A small send budget: three at once, then one a second."""
    return {"HAVEN_RATE_SEND": f"60/minute,{BURST}"}


async def test_a_burst_shows_sending_shortly_and_everything_arrives(
    api: Api, people: People, new_context: NewContext, app_url: str
) -> None:
    coach, page, conversation_id, _ = await coach_and_browser_client(
        api, people, new_context, app_url
    )
    texts = [f"thought number {n}" for n in range(1, BURST + 6)]
    for text in texts:
        await app.send(page, text)
    await expect(page.get_by_text("Sending shortly…").first).to_be_visible(timeout=T)
    for text in texts:
        await app.shows(page, text)
    await expect(page.get_by_text("Sending shortly…")).to_have_count(0, timeout=T)
    shown = await page.locator(".log li:not(.system) > p").all_inner_texts()
    assert shown == texts
    assert await page.get_by_text("Not sent").count() == 0
    assert await page.get_by_text("not delivered", exact=False).count() == 0
    assert await page.get_by_text("connection", exact=False).count() == 0

    history = await api.call(
        "GET",
        f"/v1/conversations/{conversation_id}/messages?after_seq=0&limit=50",
        token=coach.access_token,
    )
    assert history.status == 200, history.body
    assert len(history.body["messages"]) == len(texts)
