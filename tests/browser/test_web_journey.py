"""Haven Web's main journey in two browsers against the real services: an operator's invite, a
coach who registers and invites a client, a client who registers, accepts the agreement and
writes; live both ways; reload keeps only the person who chose it signed in; safety numbers
agree and a mistyped one answers calmly. axe-core checks every screen on the way and the main
screens are saved to docs/screenshots/."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import NewContext
from tests.browser.support import app
from tests.browser.support.people import People, new_handle, password_for
from tools.api import Api

T = 20_000
Axe = Callable[[Page, str], Awaitable[None]]
Shot = Callable[[Page, str], Awaitable[Path]]
AGREEMENT = (
    "Messages here are read by your coach during working hours.\n\n"
    "Haven is not a crisis service: in danger, call your local emergency number."
)


_PUBLISHED: set[str] = set()


async def publish_agreement(api: Api, people: People, version: str = "2026-12") -> None:
    """The operator publishes the messaging agreement clients accept before their first send
    (once per stack: every operator sign-in is a device, and an account has at most ten)."""
    if api.base in _PUBLISHED:
        return
    _PUBLISHED.add(api.base)
    operator = await people.operator()
    reply = await api.call(
        "PUT", "/v1/admin/agreement", {"version": version, "text": AGREEMENT}, operator.access_token
    )
    assert reply.status in (200, 201, 204), reply.body


async def client_in_browser(
    page: Page,
    app_url: str,
    code: str,
    name: str = "Sam",
    keep: bool = False,
    axe: Axe | None = None,
) -> str:
    """A client registers with `code`, accepts the agreement when one is asked for, and ends on
    the conversation list; returns the handle."""
    handle = new_handle("client")
    await app.register(page, app_url, code, handle, password_for(handle), name, keep=keep)
    heading = page.get_by_role("heading", level=1)
    first_screen = re.compile("Before your first message|Conversations")
    await expect(heading).to_have_text(first_screen, timeout=T)
    if await heading.text_content() == "Before your first message":
        if axe is not None:
            await axe(page, "agreement")
        await app.accept_agreement(page)
    await expect(page.get_by_role("heading", name="Conversations")).to_be_visible(timeout=T)
    return handle


async def safety_halves(page: Page) -> tuple[str, str]:
    """The safety number's two halves as this page shows them: (yours, theirs)."""
    yours = page.locator("section[aria-labelledby=sn-yours] li")
    theirs = page.locator("section[aria-labelledby=sn-theirs] li")
    await expect(yours).to_have_count(6, timeout=T)
    await expect(theirs).to_have_count(6, timeout=T)
    return "".join(await yours.all_inner_texts()), "".join(await theirs.all_inner_texts())


# The whole journey, then the module's stack stopping after it: more than the default 60 s
# on a busy machine.
@pytest.mark.timeout(120)
async def test_coach_and_client_meet_write_and_verify(
    app_url: str,
    api: Api,
    people: People,
    new_context: NewContext,
    axe: Axe,
    screenshot: Shot,
) -> None:
    await publish_agreement(api, people)
    coach_page = await (await new_context()).new_page()
    await coach_page.goto(app_url)
    await expect(coach_page.get_by_role("button", name="Sign in")).to_be_visible(timeout=T)
    await axe(coach_page, "sign-in")
    await screenshot(coach_page, "sign-in")

    coach = new_handle("coach")
    code = await people.coach_invite()
    await app.register(coach_page, app_url, code, coach, password_for(coach), "Coach Robin", True)
    await expect(coach_page.get_by_role("heading", name="Conversations")).to_be_visible(timeout=T)
    await axe(coach_page, "empty conversation list")

    await coach_page.get_by_role("button", name="Coach tools").click()
    await coach_page.get_by_role("button", name="Create an invite code").click()
    code_field = coach_page.get_by_label("Code to share")
    await expect(code_field).not_to_have_value("", timeout=T)
    code = await code_field.input_value()
    await axe(coach_page, "coach tools")
    await screenshot(coach_page, "coach-tools")

    client_page = await (await new_context()).new_page()
    await client_page.goto(app_url)
    await client_page.get_by_role("button", name="I have an invite code").click()
    await expect(client_page.get_by_label("Invite code")).to_be_visible(timeout=T)
    await expect(client_page.get_by_text("10 to 256 characters", exact=False)).to_be_visible()
    await axe(client_page, "register")
    client_handle = await client_in_browser(client_page, app_url, code, axe=axe)
    await axe(client_page, "client conversation list")
    await app.open_conversation(client_page, "Coach Robin")
    notice = client_page.get_by_text("Haven is not for emergencies.", exact=False)
    await expect(notice.first).to_be_visible()
    await expect(client_page.get_by_text("Test crisis line")).to_be_visible()
    await app.send(client_page, "Hello Robin, this is Sam")
    await app.shows(client_page, "Hello Robin, this is Sam")
    await axe(client_page, "chat")

    await coach_page.get_by_role("button", name="Conversations").click()
    sam = coach_page.get_by_role("link", name="Sam")
    await expect(sam).to_be_visible(timeout=T)
    await expect(coach_page.get_by_text("1 unread")).to_be_visible(timeout=T)
    await screenshot(coach_page, "conversation-list")
    await app.open_conversation(coach_page, "Sam")
    await app.shows(coach_page, "Hello Robin, this is Sam")
    await app.send(coach_page, "Hello Sam, good to hear from you")
    await app.shows(client_page, "Hello Sam, good to hear from you")
    await app.send(client_page, "Live both ways")
    await app.shows(coach_page, "Live both ways")
    await client_page.evaluate("window.scrollTo(0, 0)")
    await screenshot(client_page, "chat")

    await client_page.get_by_role("button", name="Safety number").click()
    heading = client_page.get_by_role("heading", name="Safety number with Coach Robin")
    await expect(heading).to_be_visible(timeout=T)
    client_yours, client_theirs = await safety_halves(client_page)
    await coach_page.get_by_role("button", name="Safety number").click()
    coach_yours, coach_theirs = await safety_halves(coach_page)
    assert (client_yours, client_theirs) == (coach_theirs, coach_yours)
    assert len(client_yours + client_theirs) == 60
    client_digits = client_yours + client_theirs
    await axe(client_page, "safety number")

    wrong = ("1" if client_digits[0] != "1" else "2") + client_digits[1:]
    await client_page.get_by_label("Numbers Coach Robin reads to you").fill(wrong)
    await client_page.get_by_role("button", name="Compare").click()
    await expect(
        client_page.get_by_text(
            "These numbers don't match. Don't share anything sensitive until you have compared "
            "them with Coach Robin another way.",
            exact=False,
        )
    ).to_be_visible()
    await expect(client_page.get_by_text("typo", exact=False)).to_be_visible()
    spaced = " ".join(client_digits[i : i + 5] for i in range(0, 60, 5))
    await client_page.get_by_label("Numbers Coach Robin reads to you").fill(spaced)
    await client_page.get_by_role("button", name="Compare").click()
    await expect(client_page.get_by_text("These numbers match.", exact=False)).to_be_visible()
    await client_page.get_by_label("Verified").check()
    await screenshot(client_page, "safety-number")

    await coach_page.reload()
    await expect(coach_page.get_by_role("heading", name="Conversations")).to_be_visible(timeout=T)
    await client_page.reload()
    await expect(client_page.get_by_role("button", name="Sign in")).to_be_visible(timeout=T)
    await expect(client_page.get_by_label("Keep me signed in on this device")).not_to_be_checked()
    # The tab kept no keys, so leaving it revoked its device: no orphan in anyone's key list.
    client = await people.api.login(client_handle, password_for(client_handle))
    async with asyncio.timeout(10):  # the page's keepalive request may still be on its way
        while True:
            me = await people.api.call("GET", "/v1/me", token=client.access_token)
            if [d["device_id"] for d in me.body["devices"]] == [client.device_id]:
                break
            await asyncio.sleep(0.2)

    await coach_page.get_by_role("button", name="Settings").click()
    await expect(coach_page.get_by_role("heading", name="Settings")).to_be_visible(timeout=T)
    await axe(coach_page, "settings")
    await coach_page.get_by_role("button", name="Sign out").first.click()
    await expect(coach_page.get_by_role("button", name="Sign in")).to_be_visible(timeout=T)
    stored = await coach_page.evaluate(
        "async () => ({local: localStorage.length, session: sessionStorage.length,"
        " dbs: (await indexedDB.databases()).length})"
    )
    assert stored == {"local": 0, "session": 0, "dbs": 0}
